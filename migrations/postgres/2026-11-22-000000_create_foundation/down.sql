DROP TABLE events;
DROP TABLE signing_keys;
DROP TABLE client_grants;
DROP TABLE scopes;
DROP TABLE resource_servers;
DROP TABLE clients;
DROP TABLE users;
DROP TABLE environments;
