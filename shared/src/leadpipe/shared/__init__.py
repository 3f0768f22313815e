"""What two or more leadpipe services need: event schemas, Kafka and PostgreSQL plumbing,
settings, logging. No business rules live here."""
