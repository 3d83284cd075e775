"""The Litestar HTTP app: controllers translate, one module maps errors."""
