"""Development and test tooling: finding and starting local servers, cutting connections on
demand, running the whole platform on one machine. Services never import it outside tests."""
