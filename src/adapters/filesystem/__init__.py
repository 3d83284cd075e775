"""Files in a directory of this machine: the `local` storage backend."""
