DROP TABLE invitation_roles;
DROP TABLE invitations;
