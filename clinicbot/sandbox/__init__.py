"""Local fakes of GestãoDS and Z-API, served on loopback when no real service is configured."""
