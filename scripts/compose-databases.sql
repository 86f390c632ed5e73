-- One database per service (ARCHITECTURE.md): created once when the PostgreSQL volume is new.
CREATE DATABASE auth;
CREATE DATABASE notify;
CREATE DATABASE portfolio;
CREATE DATABASE media;
CREATE DATABASE search;
