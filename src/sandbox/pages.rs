//! The sandbox's own HTML pages: online-banking login, SMS OTP, and their errors. Plain forms
//! that work without JavaScript; every interpolated value goes through [`escape`].

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// HTML-escapes text for element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{body}\n\
         <p><small>Sandbox bank: test data only.</small></p>\n</body></html>\n",
        title = escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>\n", escape(e)))
        .unwrap_or_default()
}

fn action(bank: &str) -> String {
    format!("/banks/{}/stet/psd2/oauth/authorize", escape(bank))
}

/// The login page: the online banking id. `what` says what the PSU is approving.
pub fn login(bank: &str, session: &str, what: &str, error: Option<&str>) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = format!(
        "<p>{what}</p>\n{error}<form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"session\" value=\"{session}\">\n\
         <label for=\"psu_id\">Identifiant de banque en ligne</label>\n\
         <input id=\"psu_id\" name=\"psu_id\" autocomplete=\"username\" required>\n\
         <button type=\"submit\" name=\"action\" value=\"login\">Continuer</button>\n\
         <button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Annuler</button>\n\
         </form>",
        what = escape(what),
        error = error_line(error),
        action = action(bank),
        session = escape(session),
    );
    page(status, &format!("Banque {bank}: connexion"), &body)
}

/// The SMS OTP page.
pub fn otp(bank: &str, session: &str, psu: &str, error: Option<&str>) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = format!(
        "<p>Bonjour {psu}. Saisissez le code reçu par SMS.</p>\n{error}\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"session\" value=\"{session}\">\n\
         <label for=\"otp\">Code SMS</label>\n\
         <input id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\n\
         <button type=\"submit\" name=\"action\" value=\"otp\">Valider</button>\n\
         <button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Annuler</button>\n\
         </form>",
        psu = escape(psu),
        error = error_line(error),
        action = action(bank),
        session = escape(session),
    );
    page(status, &format!("Banque {bank}: code SMS"), &body)
}

/// An error page for requests that cannot be sent back to the TPP (unknown client, bad
/// redirect URI, expired session).
pub fn error(status: StatusCode, message: &str) -> HttpResponse {
    page(status, "Erreur", &format!("<p>{}</p>", escape(message)))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
