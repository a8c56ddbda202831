//! The journey's words, in French and English, picked from `Accept-Language`.

use actix_web::HttpRequest;

/// One language's texts.
#[derive(Debug)]
pub struct Texts {
    /// `lang` attribute.
    pub lang: &'static str,
    /// "Connect …".
    pub connect_title: &'static str,
    /// What the connection does.
    pub connect_intro: &'static str,
    /// Shared item.
    pub share_accounts: &'static str,
    /// Shared item.
    pub share_balances: &'static str,
    /// Shared item.
    pub share_transactions: &'static str,
    /// How long the access lasts.
    pub connect_validity: &'static str,
    /// Button.
    pub continue_to: &'static str,
    /// Button.
    pub cancel: &'static str,
    /// Consent page title.
    pub consent_title: &'static str,
    /// Consent page intro.
    pub consent_intro: &'static str,
    /// Column.
    pub account: &'static str,
    /// Column.
    pub balances: &'static str,
    /// Column.
    pub transactions: &'static str,
    /// Checkbox.
    pub share_identity: &'static str,
    /// Button.
    pub share: &'static str,
    /// Error page title.
    pub error_title: &'static str,
    /// Error page hint.
    pub error_hint: &'static str,
    /// The link is unknown, used or expired.
    pub link_invalid: &'static str,
    /// The OAuth state is missing, unknown, expired or replayed.
    pub state_invalid: &'static str,
    /// The bank failed.
    pub bank_failed: &'static str,
    /// The bank's answer came back in another browser than the one that started the journey.
    pub other_browser: &'static str,
    /// A form was posted from another site.
    pub cross_site: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    connect_title: "Connect",
    connect_intro: "You will sign in at your bank, then choose which accounts to share. \
                    Your bank credentials are never shared with Passerelle or the app.",
    share_accounts: "the list of your accounts",
    share_balances: "their balances, for the accounts you choose",
    share_transactions: "their transactions, for the accounts you choose",
    connect_validity: "Access lasts 180 days; you can revoke it at any time.",
    continue_to: "Continue to",
    cancel: "Cancel",
    consent_title: "Choose what to share",
    consent_intro: "Accounts held at",
    account: "Account",
    balances: "Balances",
    transactions: "Transactions",
    share_identity: "Share my name and identity",
    share: "Share",
    error_title: "This connection could not continue",
    error_hint: "Go back to the app and start again.",
    link_invalid: "This link is unknown, already used or expired.",
    state_invalid: "This sign-in response is unknown, already used or expired.",
    other_browser: "This sign-in was started in another browser. Start again from the app, \
                    in this browser.",
    cross_site: "This form can only be sent from this site's own page.",
    bank_failed: "Your bank did not answer as expected.",
};

const FR: Texts = Texts {
    lang: "fr",
    connect_title: "Connecter",
    connect_intro: "Vous allez vous identifier auprès de votre banque, puis choisir les comptes \
                    à partager. Vos identifiants bancaires ne sont jamais transmis à Passerelle \
                    ni à l'application.",
    share_accounts: "la liste de vos comptes",
    share_balances: "leurs soldes, pour les comptes choisis",
    share_transactions: "leurs opérations, pour les comptes choisis",
    connect_validity: "L'accès dure 180 jours ; vous pouvez le révoquer à tout moment.",
    continue_to: "Continuer vers",
    cancel: "Annuler",
    consent_title: "Choisissez ce que vous partagez",
    consent_intro: "Comptes détenus chez",
    account: "Compte",
    balances: "Soldes",
    transactions: "Opérations",
    share_identity: "Partager mon nom et mon identité",
    share: "Partager",
    error_title: "Cette connexion n'a pas pu continuer",
    error_hint: "Revenez dans l'application et recommencez.",
    link_invalid: "Ce lien est inconnu, déjà utilisé ou expiré.",
    state_invalid: "Cette réponse d'identification est inconnue, déjà utilisée ou expirée.",
    other_browser: "Cette identification a commencé dans un autre navigateur. Recommencez \
                    depuis l'application, dans ce navigateur.",
    cross_site: "Ce formulaire ne peut être envoyé que depuis la page de ce site.",
    bank_failed: "Votre banque n'a pas répondu comme prévu.",
};

/// The English texts (the demo pages are in English only: they speak to a developer).
pub fn english() -> &'static Texts {
    &EN
}

/// French when the browser prefers it, English otherwise.
pub fn texts(req: &HttpRequest) -> &'static Texts {
    let preferred = req
        .headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|tag| tag.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if preferred.starts_with("fr") {
        &FR
    } else {
        &EN
    }
}
