"""Test helpers: real servers started by the tests, and fakes of our own ports."""
