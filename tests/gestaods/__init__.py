"""Tests of the GestãoDS client and its sandbox fake."""
