"""Storage behind one interface per concern, one implementation per backend, chosen once at
start-up (db/setup.init_db)."""
