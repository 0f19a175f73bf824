"""Personal data (APPI): an admin's export of everything held about a member, and the anonymization
of a member who has left."""
