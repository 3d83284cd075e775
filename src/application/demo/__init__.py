"""Demo content for operators: realistic, reproducible data to show and load-test Portico."""
