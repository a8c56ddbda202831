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
    /// Payment page title.
    pub pay_title: &'static str,
    /// What the payment page asks.
    pub pay_intro: &'static str,
    /// Row label.
    pub pay_to: &'static str,
    /// Row label.
    pub pay_amount: &'static str,
    /// Row label.
    pub pay_date: &'static str,
    /// Row value: as soon as possible.
    pub pay_now: &'static str,
    /// Row value suffix for an instant transfer.
    pub pay_instant: &'static str,
    /// Row label.
    pub pay_reference: &'static str,
    /// Row label.
    pub pay_from: &'static str,
    /// Row value: chosen at the bank.
    pub pay_from_bank: &'static str,
    /// Button: approve at the bank.
    pub approve_at: &'static str,
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
    pay_title: "Approve a payment",
    pay_intro: "The app asks you to approve this transfer at your bank. Check it, then \
                continue: your bank will ask you to authenticate.",
    pay_to: "To",
    pay_amount: "Amount",
    pay_date: "Execution",
    pay_now: "as soon as possible",
    pay_instant: "(instant transfer)",
    pay_reference: "Reference",
    pay_from: "From",
    pay_from_bank: "the account you choose at your bank",
    approve_at: "Approve at",
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
    pay_title: "Valider un paiement",
    pay_intro: "L'application vous demande de valider ce virement auprès de votre banque. \
                Vérifiez-le, puis continuez : votre banque vous demandera de vous authentifier.",
    pay_to: "Bénéficiaire",
    pay_amount: "Montant",
    pay_date: "Exécution",
    pay_now: "dès que possible",
    pay_instant: "(virement instantané)",
    pay_reference: "Référence",
    pay_from: "Compte débité",
    pay_from_bank: "le compte que vous choisirez auprès de votre banque",
    approve_at: "Valider chez",
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
