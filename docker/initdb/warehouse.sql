-- The warehouse lives beside Dagster's own storage, in its own database.
CREATE DATABASE warehouse;
