//! The `client_credentials` grant (RFC 6749 §4.4) with RFC 8707 resource indicators.

use crate::crypto::secrets::ordered_id;
use crate::model::{Client, Grant};
use crate::oauth::form::OAuthForm;
use crate::oauth::token::{TokenResponse, mint_access_token};
use crate::oauth::{OAuthError, resource, scope};
use crate::server::AppState;

/// Issues an access token to the client itself.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &OAuthForm,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::UnauthorizedClient(
            "public clients cannot use client_credentials".into(),
        ));
    }
    if !client.allows_grant("client_credentials") {
        return Err(OAuthError::UnauthorizedClient(
            "client is not registered for client_credentials".into(),
        ));
    }
    let granted = scope::requested(state.store(), client, form.get("scope"), state.now())
        .await?
        .join(" ");
    // RFC 8707: only resources registered for the client; none requested = default audience.
    let requested = form.all("resource");
    let resources = if requested.is_empty() {
        Vec::new()
    } else {
        resource::narrow(&client.metadata.resources, requested)?
    };
    let audience = resource::audience(client, resources);
    let now = state.now();
    let grant = Grant::for_client(
        ordered_id(),
        client.client_id.clone(),
        "client_credentials",
        granted,
        now,
    );
    let minted = mint_access_token(state, client, &grant, &grant.scope, audience, jkt, now).await?;
    state
        .store()
        .insert_grant_with_tokens(&grant, std::slice::from_ref(&minted.record))
        .await?;
    Ok(TokenResponse::new(minted, now, grant.scope))
}
