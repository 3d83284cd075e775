"""Use cases of the files context: uploads through the API or direct to storage, and reads."""
