# Sign-in and the API's authorizer (auth.tf, the routes of api.tf) under a mocked AWS provider:
# `terraform test -filter=tests/auth.tftest.hcl` from terraform/ (cargo xtask test runs every file).
# The real provider against moto: `cargo xtask moto` (xtask/src/moto.rs).

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

# The variables come from tests/terraform.tfvars, shared by every file of tests/ (each run's own
# `variables` block overrides them).

# The hosted UI's prefix for environment "test" in account 123456789012, region eu-west-3:
# thumbforge-test- and the first 8 hex digits of sha1("123456789012/eu-west-3").

run "the_pool_signs_users_up_and_in_by_verified_email" {
  command = apply

  assert {
    condition     = length(aws_cognito_user_pool.users) == 1 && aws_cognito_user_pool.users[0].name == "thumbforge-test-users"
    error_message = "one user pool, named thumbforge-<env>-users"
  }
  assert {
    condition     = toset(aws_cognito_user_pool.users[0].username_attributes) == toset(["email"]) && toset(aws_cognito_user_pool.users[0].auto_verified_attributes) == toset(["email"])
    error_message = "users sign in with their email address, which Cognito verifies"
  }
  assert {
    condition     = aws_cognito_user_pool.users[0].username_configuration[0].case_sensitive == false
    error_message = "email addresses are user names whatever their case"
  }
  assert {
    condition     = aws_cognito_user_pool.users[0].admin_create_user_config[0].allow_admin_create_user_only == false
    error_message = "users may sign themselves up"
  }
  assert {
    condition     = aws_cognito_user_pool.users[0].verification_message_template[0].default_email_option == "CONFIRM_WITH_CODE" && strcontains(aws_cognito_user_pool.users[0].verification_message_template[0].email_message, "{####}")
    error_message = "sign-up is confirmed with a code sent by email"
  }
  assert {
    condition     = toset(aws_cognito_user_pool.users[0].user_attribute_update_settings[0].attributes_require_verification_before_update) == toset(["email"])
    error_message = "a changed email address must be verified before it becomes the user name"
  }
  assert {
    condition = (
      aws_cognito_user_pool.users[0].password_policy[0].minimum_length == 10
      && aws_cognito_user_pool.users[0].password_policy[0].require_lowercase
      && aws_cognito_user_pool.users[0].password_policy[0].require_uppercase
      && aws_cognito_user_pool.users[0].password_policy[0].require_numbers
      && !aws_cognito_user_pool.users[0].password_policy[0].require_symbols
    )
    error_message = "the password policy is auth.password"
  }
  assert {
    condition     = aws_cognito_user_pool.users[0].mfa_configuration == "OPTIONAL" && aws_cognito_user_pool.users[0].software_token_mfa_configuration[0].enabled
    error_message = "MFA is optional, with an authenticator app (TOTP)"
  }
  assert {
    condition     = [for m in aws_cognito_user_pool.users[0].account_recovery_setting[0].recovery_mechanism : m.name] == ["verified_email"]
    error_message = "accounts are recovered through the verified email address only"
  }
  assert {
    condition     = aws_cognito_user_pool.users[0].deletion_protection == "INACTIVE"
    error_message = "no deletion protection unless asked (so that destroy works)"
  }
}

run "production_protects_the_pool_from_deletion" {
  command = apply

  variables {
    user_pool_deletion_protection = true
  }

  assert {
    condition     = aws_cognito_user_pool.users[0].deletion_protection == "ACTIVE"
    error_message = "user_pool_deletion_protection = true activates deletion protection"
  }
}

run "the_page_is_a_public_code_flow_client" {
  command = apply

  assert {
    condition     = aws_cognito_user_pool_client.page[0].user_pool_id == aws_cognito_user_pool.users[0].id && aws_cognito_user_pool_client.page[0].name == "thumbforge-test-page"
    error_message = "one client of the pool, named thumbforge-<env>-page"
  }
  assert {
    condition     = aws_cognito_user_pool_client.page[0].generate_secret == false
    error_message = "a public client: it runs in the browser and keeps no secret (PKCE instead)"
  }
  assert {
    condition     = aws_cognito_user_pool_client.page[0].allowed_oauth_flows_user_pool_client && toset(aws_cognito_user_pool_client.page[0].allowed_oauth_flows) == toset(["code"])
    error_message = "the authorization code flow only (no implicit flow, no client credentials)"
  }
  assert {
    condition     = toset(aws_cognito_user_pool_client.page[0].allowed_oauth_scopes) == toset(["openid", "email"])
    error_message = "the client may ask for auth.scopes"
  }
  assert {
    condition     = toset(aws_cognito_user_pool_client.page[0].supported_identity_providers) == toset(["COGNITO"])
    error_message = "users of the pool itself only"
  }
  assert {
    condition     = toset(aws_cognito_user_pool_client.page[0].callback_urls) == toset(["https://d111111abcdef8.cloudfront.net/", "http://localhost:8080/"]) && toset(aws_cognito_user_pool_client.page[0].logout_urls) == toset(["https://d111111abcdef8.cloudfront.net/", "http://localhost:8080/"])
    error_message = "sign-in and sign-out return to the site and the local stack only"
  }
  assert {
    condition     = toset(aws_cognito_user_pool_client.page[0].explicit_auth_flows) == toset(["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    error_message = "besides the hosted UI: refresh, and the admin sign-in of the smoke tests (IAM credentials needed)"
  }
  assert {
    condition     = aws_cognito_user_pool_client.page[0].prevent_user_existence_errors == "ENABLED" && aws_cognito_user_pool_client.page[0].enable_token_revocation
    error_message = "no user enumeration; refresh tokens can be revoked"
  }
  assert {
    condition = (
      aws_cognito_user_pool_client.page[0].access_token_validity == 60
      && aws_cognito_user_pool_client.page[0].id_token_validity == 60
      && aws_cognito_user_pool_client.page[0].refresh_token_validity == 30
      && aws_cognito_user_pool_client.page[0].token_validity_units[0].access_token == "minutes"
      && aws_cognito_user_pool_client.page[0].token_validity_units[0].id_token == "minutes"
      && aws_cognito_user_pool_client.page[0].token_validity_units[0].refresh_token == "days"
    )
    error_message = "token lifetimes are auth's, in minutes and days"
  }
}

run "token_lifetimes_and_local_origins_follow_the_variables" {
  command = apply

  variables {
    auth          = merge(var.auth, { access_token_minutes = 5, id_token_minutes = 1440, refresh_token_days = 3650, password = merge(var.auth.password, { min_length = 6, require_symbols = true }) })
    local_origins = []
  }

  assert {
    condition     = aws_cognito_user_pool_client.page[0].access_token_validity == 5 && aws_cognito_user_pool_client.page[0].id_token_validity == 1440 && aws_cognito_user_pool_client.page[0].refresh_token_validity == 3650
    error_message = "token lifetimes come from auth"
  }
  assert {
    condition     = aws_cognito_user_pool.users[0].password_policy[0].minimum_length == 6 && aws_cognito_user_pool.users[0].password_policy[0].require_symbols
    error_message = "the password policy comes from auth.password"
  }
  assert {
    condition     = toset(aws_cognito_user_pool_client.page[0].callback_urls) == toset(["https://d111111abcdef8.cloudfront.net/"])
    error_message = "without local origins, the site alone"
  }
}

run "the_hosted_ui_and_the_page_settings" {
  command = apply

  assert {
    condition     = aws_cognito_user_pool_domain.users[0].domain == "thumbforge-test-93a9ac43" && aws_cognito_user_pool_domain.users[0].user_pool_id == aws_cognito_user_pool.users[0].id
    error_message = "the hosted UI's prefix is thumbforge-<env>-<hash of account and region>"
  }
  assert {
    condition = (
      local.presign_environment["THUMBFORGE_AUTH_CLIENT_ID"] == "testclient0123456789abcdef"
      && local.presign_environment["THUMBFORGE_AUTH_AUTHORIZE_URL"] == "https://thumbforge-test-93a9ac43.auth.eu-west-3.amazoncognito.com/oauth2/authorize"
      && local.presign_environment["THUMBFORGE_AUTH_TOKEN_URL"] == "https://thumbforge-test-93a9ac43.auth.eu-west-3.amazoncognito.com/oauth2/token"
      && local.presign_environment["THUMBFORGE_AUTH_LOGOUT_URL"] == "https://thumbforge-test-93a9ac43.auth.eu-west-3.amazoncognito.com/logout"
      && local.presign_environment["THUMBFORGE_AUTH_SCOPES"] == "openid email"
    )
    error_message = "the API function serves the page the client id, the hosted UI's endpoints and the scopes"
  }
  assert {
    condition     = length([for name in keys(local.function_environment) : name if startswith(name, "THUMBFORGE_AUTH_")]) == 0
    error_message = "the thumbnail function gets no sign-in settings"
  }
  assert {
    condition     = aws_cloudfront_response_headers_policy.security["site"].security_headers_config[0].content_security_policy[0].content_security_policy == "default-src 'none'; connect-src 'self' https://thumbforge-test-media-123456789012-eu-west-3.s3.eu-west-3.amazonaws.com https://thumbforge-test-93a9ac43.auth.eu-west-3.amazoncognito.com"
    error_message = "the CSP lets the page call the token endpoint's origin, and no other"
  }
  assert {
    condition = (
      output.user_pool_id == "eu-west-3_TestPool1"
      && output.user_pool_issuer == "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_TestPool1"
      && output.auth_domain == "thumbforge-test-93a9ac43.auth.eu-west-3.amazoncognito.com"
      && output.auth_client_id == "testclient0123456789abcdef"
      && output.auth_token_url == "https://thumbforge-test-93a9ac43.auth.eu-west-3.amazoncognito.com/oauth2/token"
    )
    error_message = "the outputs name the pool, its issuer, the hosted UI and the client"
  }
}

run "every_route_but_the_config_needs_a_token_with_a_route_scope" {
  command = apply

  assert {
    condition     = aws_apigatewayv2_authorizer.jwt.authorizer_type == "JWT" && aws_apigatewayv2_authorizer.jwt.identity_sources == toset(["$request.header.Authorization"])
    error_message = "a JWT authorizer reading the Authorization header"
  }
  assert {
    condition     = aws_apigatewayv2_authorizer.jwt.jwt_configuration[0].issuer == "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_TestPool1" && toset(aws_apigatewayv2_authorizer.jwt.jwt_configuration[0].audience) == toset(["testclient0123456789abcdef"])
    error_message = "the authorizer trusts the pool, for the page's client"
  }
  assert {
    condition     = alltrue([for key, route in aws_apigatewayv2_route.presign : route.authorization_type == "JWT" && route.authorizer_id == aws_apigatewayv2_authorizer.jwt.id && toset(route.authorization_scopes) == toset(["openid", "aws.cognito.signin.user.admin"]) if key != "GET /api/config"])
    error_message = "every route but GET /api/config runs the authorizer and needs one of auth.route_scopes"
  }
  assert {
    condition     = toset([for key, route in aws_apigatewayv2_route.presign : key if route.authorization_type == "JWT"]) == toset(["POST /api/uploads", "GET /api/images", "GET /api/images/{id}", "DELETE /api/images/{id}", "ANY /api/{proxy+}"])
    error_message = "the routes of a signed-in user"
  }
  assert {
    condition     = aws_apigatewayv2_route.presign["GET /api/config"].authorization_type == "NONE" && aws_apigatewayv2_route.presign["GET /api/config"].authorizer_id == null && length(coalesce(aws_apigatewayv2_route.presign["GET /api/config"].authorization_scopes, [])) == 0
    error_message = "GET /api/config is open (the page reads how to sign in before it can)"
  }
}

run "without_route_scopes_any_valid_token_passes" {
  command = apply

  variables {
    auth = merge(var.auth, { route_scopes = [] })
  }

  assert {
    condition     = alltrue([for route in aws_apigatewayv2_route.presign : length(coalesce(route.authorization_scopes, [])) == 0])
    error_message = "empty route_scopes: no route names a scope"
  }
  assert {
    condition     = aws_apigatewayv2_route.presign["GET /api/images"].authorization_type == "JWT"
    error_message = "the authorizer still runs"
  }
}

run "oidc_brings_its_own_provider" {
  command = apply

  variables {
    auth = merge(var.auth, {
      provider      = "oidc"
      issuer        = "https://example.eu.auth0.com"
      audience      = ["abc123", "https://api.example.com"]
      authorize_url = "https://example.eu.auth0.com/authorize"
      token_url     = "https://login.example.com/oauth/token"
      logout_url    = "https://example.eu.auth0.com/v2/logout"
      scopes        = ["openid", "email", "photos"]
    })
  }

  assert {
    condition     = length(aws_cognito_user_pool.users) == 0 && length(aws_cognito_user_pool_client.page) == 0 && length(aws_cognito_user_pool_domain.users) == 0
    error_message = "no pool, client or domain with provider = oidc"
  }
  assert {
    condition     = aws_apigatewayv2_authorizer.jwt.jwt_configuration[0].issuer == "https://example.eu.auth0.com" && toset(aws_apigatewayv2_authorizer.jwt.jwt_configuration[0].audience) == toset(["abc123", "https://api.example.com"])
    error_message = "the authorizer trusts the configured issuer for the configured audiences"
  }
  assert {
    condition = (
      local.presign_environment["THUMBFORGE_AUTH_CLIENT_ID"] == "abc123"
      && local.presign_environment["THUMBFORGE_AUTH_AUTHORIZE_URL"] == "https://example.eu.auth0.com/authorize"
      && local.presign_environment["THUMBFORGE_AUTH_TOKEN_URL"] == "https://login.example.com/oauth/token"
      && local.presign_environment["THUMBFORGE_AUTH_LOGOUT_URL"] == "https://example.eu.auth0.com/v2/logout"
      && local.presign_environment["THUMBFORGE_AUTH_SCOPES"] == "openid email photos"
    )
    error_message = "the API function serves the provider's endpoints, the first audience as the client id"
  }
  assert {
    condition     = endswith(aws_cloudfront_response_headers_policy.security["site"].security_headers_config[0].content_security_policy[0].content_security_policy, ".amazonaws.com https://login.example.com")
    error_message = "the CSP names the token endpoint's origin"
  }
  assert {
    condition     = output.user_pool_id == null && output.user_pool_issuer == null && output.auth_domain == null && output.auth_client_id == "abc123"
    error_message = "no pool outputs with provider = oidc"
  }
  assert {
    condition     = aws_apigatewayv2_route.presign["POST /api/uploads"].authorizer_id == aws_apigatewayv2_authorizer.jwt.id && aws_apigatewayv2_route.presign["GET /api/config"].authorization_type == "NONE"
    error_message = "the routes are protected the same way"
  }
}

run "oidc_without_a_logout_url" {
  command = apply

  variables {
    auth = merge(var.auth, {
      provider      = "oidc"
      issuer        = "https://keycloak.example.com/realms/photos"
      audience      = ["thumbforge"]
      authorize_url = "https://keycloak.example.com/realms/photos/protocol/openid-connect/auth"
      token_url     = "https://keycloak.example.com/realms/photos/protocol/openid-connect/token"
    })
  }

  assert {
    condition     = local.presign_environment["THUMBFORGE_AUTH_LOGOUT_URL"] == ""
    error_message = "no logout URL: the variable is empty"
  }
}

run "an_environment_name_cognito_refuses_as_a_domain_prefix" {
  command = plan

  variables {
    environment = "aws-test"
  }

  expect_failures = [aws_cognito_user_pool_domain.users]
}

# Every validation block of auth and local_origins has a failing case (xtask/src/terraform.rs
# counts them).

run "rejects_an_unknown_provider" {
  command = plan
  variables { auth = merge(var.auth, { provider = "saml" }) }
  expect_failures = [var.auth]
}

run "rejects_oidc_settings_with_cognito" {
  command = plan
  variables { auth = merge(var.auth, { issuer = "https://example.com" }) }
  expect_failures = [var.auth]
}

run "rejects_an_audience_with_cognito" {
  command = plan
  variables { auth = merge(var.auth, { audience = ["abc"] }) }
  expect_failures = [var.auth]
}

run "rejects_an_issuer_with_a_trailing_slash" {
  command = plan
  variables {
    auth = merge(var.auth, { provider = "oidc", issuer = "https://example.com/", audience = ["a"], authorize_url = "https://example.com/authorize", token_url = "https://example.com/token" })
  }
  expect_failures = [var.auth]
}

run "rejects_a_plain_http_issuer" {
  command = plan
  variables {
    auth = merge(var.auth, { provider = "oidc", issuer = "http://example.com", audience = ["a"], authorize_url = "https://example.com/authorize", token_url = "https://example.com/token" })
  }
  expect_failures = [var.auth]
}

run "rejects_oidc_without_an_audience" {
  command = plan
  variables {
    auth = merge(var.auth, { provider = "oidc", issuer = "https://example.com", audience = [], authorize_url = "https://example.com/authorize", token_url = "https://example.com/token" })
  }
  expect_failures = [var.auth]
}

run "rejects_oidc_without_a_token_url" {
  command = plan
  variables {
    auth = merge(var.auth, { provider = "oidc", issuer = "https://example.com", audience = ["a"], authorize_url = "https://example.com/authorize" })
  }
  expect_failures = [var.auth]
}

run "rejects_a_plain_http_logout_url" {
  command = plan
  variables {
    auth = merge(var.auth, { provider = "oidc", issuer = "https://example.com", audience = ["a"], authorize_url = "https://example.com/authorize", token_url = "https://example.com/token", logout_url = "http://example.com/logout" })
  }
  expect_failures = [var.auth]
}

run "rejects_scopes_without_openid" {
  command = plan
  variables { auth = merge(var.auth, { scopes = ["email"] }) }
  expect_failures = [var.auth]
}

run "rejects_a_route_scope_with_a_space" {
  command = plan
  variables { auth = merge(var.auth, { route_scopes = ["bad scope"] }) }
  expect_failures = [var.auth]
}

run "rejects_a_custom_scope_with_cognito" {
  command = plan
  variables { auth = merge(var.auth, { scopes = ["openid", "photos/read"] }) }
  expect_failures = [var.auth]
}

run "rejects_a_four_minute_access_token" {
  command = plan
  variables { auth = merge(var.auth, { access_token_minutes = 4 }) }
  expect_failures = [var.auth]
}

run "rejects_an_id_token_over_a_day" {
  command = plan
  variables { auth = merge(var.auth, { id_token_minutes = 1441 }) }
  expect_failures = [var.auth]
}

run "rejects_zero_day_refresh_tokens" {
  command = plan
  variables { auth = merge(var.auth, { refresh_token_days = 0 }) }
  expect_failures = [var.auth]
}

run "rejects_refresh_tokens_over_ten_years" {
  command = plan
  variables { auth = merge(var.auth, { refresh_token_days = 3651 }) }
  expect_failures = [var.auth]
}

run "rejects_a_five_character_password_minimum" {
  command = plan
  variables { auth = merge(var.auth, { password = merge(var.auth.password, { min_length = 5 }) }) }
  expect_failures = [var.auth]
}

run "rejects_a_hundred_character_password_minimum" {
  command = plan
  variables { auth = merge(var.auth, { password = merge(var.auth.password, { min_length = 100 }) }) }
  expect_failures = [var.auth]
}

run "rejects_a_plain_http_local_origin_other_than_localhost" {
  command = plan
  variables { local_origins = ["http://192.168.1.10:8080/"] }
  expect_failures = [var.local_origins]
}

run "rejects_a_local_origin_with_a_path" {
  command = plan
  variables { local_origins = ["http://localhost:8080/app/index.html"] }
  expect_failures = [var.local_origins]
}
