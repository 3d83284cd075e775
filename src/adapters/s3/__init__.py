"""S3 and S3-compatible object storage through aiobotocore: where uploaded files are kept.

aiobotocore takes about half a second to import (docs/decisions/0006-s3-client.md): import
this package only where STORAGE_BACKEND=s3 is wired.
"""
