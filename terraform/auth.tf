# Sign-in ([auth] of thumbforge.toml, the `auth` variable) and the API's JWT authorizer.
#
# - provider = "cognito": a user pool (email addresses as user names, self sign-up confirmed by a
#   code sent by email, optional TOTP MFA), its hosted UI domain, and one public app client for
#   the page: authorization code flow only (the page adds PKCE), no secret. The authorizer trusts
#   the pool for that client.
# - provider = "oidc": none of them; the authorizer trusts the configured issuer and audiences,
#   and the page signs in at the configured endpoints.
#
# Either way the presign function serves the page what it needs to sign in (GET /api/config, from
# the THUMBFORGE_AUTH_* variables set here), and the CSP names the token endpoint's origin.
#
# No cycle: the client's callback URL needs the distribution's domain, and the presign function's
# environment needs the client's id, but the distribution needs only the API (its endpoint), never
# the function, the integration or the routes. The function is therefore created after the
# distribution.

locals {
  cognito = var.auth.provider == "cognito"

  # The hosted UI's domain prefix: unique in the region across every AWS account, so the
  # environment's name alone is not enough. A hash of this account and region makes it stable
  # (the same stack always gets the same sign-in URL, and a redeploy keeps it) without printing
  # the account id in a public URL; at most 11 + 16 + 1 + 8 = 36 of the 63 characters allowed.
  auth_domain_prefix = "thumbforge-${var.environment}-${substr(sha1("${local.account_id}/${var.region}"), 0, 8)}"
  auth_domain_host   = "${local.auth_domain_prefix}.auth.${var.region}.amazoncognito.com"

  # The page's own URL, where the hosted UI sends the browser back after sign-in and sign-out.
  site_root_url = "https://${aws_cloudfront_distribution.this.domain_name}/"

  # What the authorizer trusts.
  auth_issuer   = local.cognito ? "https://${one(aws_cognito_user_pool.users[*].endpoint)}" : var.auth.issuer
  auth_audience = local.cognito ? [one(aws_cognito_user_pool_client.page[*].id)] : var.auth.audience

  # What the page signs in with (GET /api/config).
  auth_client_id     = local.auth_audience[0]
  auth_authorize_url = local.cognito ? "https://${local.auth_domain_host}/oauth2/authorize" : var.auth.authorize_url
  auth_token_url     = local.cognito ? "https://${local.auth_domain_host}/oauth2/token" : var.auth.token_url
  auth_logout_url    = local.cognito ? "https://${local.auth_domain_host}/logout" : (var.auth.logout_url == null ? "" : var.auth.logout_url)

  # The page calls the token endpoint (code exchange, refresh) from script: the CSP's connect-src
  # must name its origin ({identity_origin} in thumbforge_core::web's template), and only that.
  identity_origin = regex("^https://[^/?#]+", local.auth_token_url)

  # thumbforge_core::env::AUTH_* (the names are checked against the Rust constants by xtask's tests).
  auth_environment = {
    THUMBFORGE_AUTH_CLIENT_ID     = local.auth_client_id
    THUMBFORGE_AUTH_AUTHORIZE_URL = local.auth_authorize_url
    THUMBFORGE_AUTH_TOKEN_URL     = local.auth_token_url
    THUMBFORGE_AUTH_LOGOUT_URL    = local.auth_logout_url
    THUMBFORGE_AUTH_SCOPES        = join(" ", var.auth.scopes)
  }
}

resource "aws_cognito_user_pool" "users" {
  count = local.cognito ? 1 : 0

  name = "${local.name}-users"

  # Users sign in with their email address, which Cognito verifies (a code) at sign-up.
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  username_configuration {
    case_sensitive = false
  }

  # Self sign-up is open; the account is usable once the emailed code is entered.
  admin_create_user_config {
    allow_admin_create_user_only = false
  }
  verification_message_template {
    default_email_option = "CONFIRM_WITH_CODE"
    email_subject        = "Your thumbforge verification code"
    email_message        = "Your thumbforge verification code is {####}."
  }
  # A changed address takes over as the user name only once it is verified.
  user_attribute_update_settings {
    attributes_require_verification_before_update = ["email"]
  }

  password_policy {
    minimum_length    = var.auth.password.min_length
    require_lowercase = var.auth.password.require_lowercase
    require_uppercase = var.auth.password.require_uppercase
    require_numbers   = var.auth.password.require_numbers
    require_symbols   = var.auth.password.require_symbols
  }

  # Users may add an authenticator app (TOTP); SMS is not offered (no SNS role, per-message cost).
  mfa_configuration = "OPTIONAL"
  software_token_mfa_configuration {
    enabled = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  # The accounts: set user_pool_deletion_protection = true in production.
  deletion_protection = var.user_pool_deletion_protection ? "ACTIVE" : "INACTIVE"
}

# The hosted UI (sign-in, sign-up, password reset, MFA set-up) and the OAuth endpoints.
resource "aws_cognito_user_pool_domain" "users" {
  count = local.cognito ? 1 : 0

  domain       = local.auth_domain_prefix
  user_pool_id = aws_cognito_user_pool.users[0].id

  lifecycle {
    precondition {
      condition     = !can(regex("aws|amazon|cognito", local.auth_domain_prefix))
      error_message = "The environment name must not contain aws, amazon or cognito: Cognito refuses such a domain prefix (${local.auth_domain_prefix})."
    }
  }
}

# The page: a public client (it runs in the browser, so it keeps no secret), authorization code
# flow with PKCE through the hosted UI only. ADMIN_USER_PASSWORD_AUTH is allowed for the deploy's
# smoke test and the moto check, which sign a test user in with AdminInitiateAuth: that call needs
# IAM credentials of this account (cognito-idp:AdminInitiateAuth), so browsers cannot use it.
resource "aws_cognito_user_pool_client" "page" {
  count = local.cognito ? 1 : 0

  name         = "${local.name}-page"
  user_pool_id = aws_cognito_user_pool.users[0].id

  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = var.auth.scopes
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = concat([local.site_root_url], var.local_origins)
  logout_urls                          = concat([local.site_root_url], var.local_origins)
  explicit_auth_flows                  = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true

  access_token_validity  = var.auth.access_token_minutes
  id_token_validity      = var.auth.id_token_minutes
  refresh_token_validity = var.auth.refresh_token_days
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

# Every route but GET /api/config runs this first (api.tf): a valid, unexpired RS256 token from
# the issuer for the audience, holding one of auth.route_scopes when there are any.
resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${local.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = local.auth_issuer
    audience = local.auth_audience
  }
}
