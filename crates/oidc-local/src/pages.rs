//! The hosted-UI pages: handlebars templates embedded from `templates/*.hbs` (HTML escaping on).

use handlebars::Handlebars;
use serde::Serialize;

use crate::Error;

/// The pages the issuer renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    Login,
    Signup,
    Confirm,
    ForgotPassword,
    ConfirmForgotPassword,
    Error,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Signup => "signup",
            Self::Confirm => "confirm",
            Self::ForgotPassword => "forgot_password",
            Self::ConfirmForgotPassword => "confirm_forgot_password",
            Self::Error => "error",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Login => "Sign in",
            Self::Signup => "Sign up",
            Self::Confirm => "Confirm your account",
            Self::ForgotPassword => "Forgot your password?",
            Self::ConfirmForgotPassword => "Reset your password",
            Self::Error => "An error was encountered with the requested page",
        }
    }
}

/// A hidden form field carrying an OAuth parameter.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hidden {
    pub name: String,
    pub value: String,
}

/// What a page shows. Every field is always present (the templates run in strict mode).
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct PageData {
    pub title: String,
    pub notice: Option<String>,
    pub errors: Vec<String>,
    pub csrf: String,
    pub oauth: Vec<Hidden>,
    /// The OAuth query string (already percent-encoded) for links to the other pages.
    pub query: String,
    pub email: String,
    /// Password rules shown under new-password fields.
    pub rules: Vec<String>,
}

/// The compiled templates.
#[derive(Debug)]
pub(crate) struct Pages {
    registry: Handlebars<'static>,
}

impl Pages {
    pub(crate) fn new() -> Result<Self, Error> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        let templates = [
            ("layout", include_str!("../templates/layout.hbs")),
            ("oauth_fields", include_str!("../templates/oauth_fields.hbs")),
            ("login", include_str!("../templates/login.hbs")),
            ("signup", include_str!("../templates/signup.hbs")),
            ("confirm", include_str!("../templates/confirm.hbs")),
            ("forgot_password", include_str!("../templates/forgot_password.hbs")),
            ("confirm_forgot_password", include_str!("../templates/confirm_forgot_password.hbs")),
            ("error", include_str!("../templates/error.hbs")),
        ];
        for (name, source) in templates {
            registry
                .register_template_string(name, source)
                .map_err(|e| Error::Template { page: name.to_owned(), message: e.to_string() })?;
        }
        Ok(Self { registry })
    }

    /// Renders `page` with `data` (the title is filled in from the page).
    pub(crate) fn render(&self, page: Page, mut data: PageData) -> Result<String, Error> {
        data.title = page.title().to_owned();
        self.registry
            .render(page.name(), &data)
            .map_err(|e| Error::Template { page: page.name().to_owned(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn data() -> PageData {
        PageData {
            notice: Some("Notice <b>".into()),
            errors: vec!["First & worst".into(), "Second".into()],
            csrf: "tok".into(),
            oauth: vec![Hidden { name: "state".into(), value: "\"><script>".into() }],
            query: "client_id=a&state=b".into(),
            email: "a@example.com".into(),
            rules: vec!["Rule one.".into()],
            ..PageData::default()
        }
    }

    #[test]
    fn every_page_renders_and_escapes() {
        let pages = Pages::new().unwrap();
        for page in [
            Page::Login,
            Page::Signup,
            Page::Confirm,
            Page::ForgotPassword,
            Page::ConfirmForgotPassword,
            Page::Error,
        ] {
            let html = pages.render(page, data()).unwrap();
            assert!(html.contains(&format!("<h1>{}</h1>", page.title())), "{html}");
            assert!(html.contains(r#"role="alert" data-testid="error""#), "{html}");
            assert!(html.contains("First &amp; worst"), "{html}");
            assert!(html.contains("Notice &lt;b&gt;"), "{html}");
            assert!(!html.contains("<script>"), "{html}");
            assert!(!html.contains("style="), "no inline style: {html}");
            if page != Page::Error {
                assert!(html.contains(r#"<input type="hidden" name="_csrf" value="tok">"#), "{html}");
                assert!(html.contains(r#"data-testid="submit""#), "{html}");
                assert!(html.contains(r#"data-testid="email""#), "{html}");
                assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");
            }
        }
    }

    #[test]
    fn pages_without_notice_or_errors_have_no_regions() {
        let pages = Pages::new().unwrap();
        let html = pages.render(Page::Login, PageData::default()).unwrap();
        assert!(!html.contains("data-testid=\"error\""));
        assert!(!html.contains("data-testid=\"notice\""));
        assert!(html.contains(r#"autocomplete="current-password""#));
    }
}
