DROP TABLE api_tokens;
DROP TABLE auth_failures;
