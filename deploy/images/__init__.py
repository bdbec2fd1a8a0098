"""Docker images built from what this machine reaches (Debian's packages, Maven Central, PyPI), and the
Docker engine and Compose to run them: `make images`, `make compose-test`."""
