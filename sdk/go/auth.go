package charter

import (
	"context"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientCredentialsConfig is a client of the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) at the issuer the
// platform trusts.
type ClientCredentialsConfig struct {
	// TokenURL is the issuer's token endpoint, e.g. http://127.0.0.1:9400/token.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes to ask for, e.g. users:read; none: the client's default scopes at the issuer.
	Scopes []string
	// Audience is the API's resource identifier, sent as resource (RFC 8707), e.g. urn:charter:api; "": not sent.
	Audience string
}

// ClientCredentials is a token source that asks the token endpoint once, keeps the token and asks again shortly
// before it expires (golang.org/x/oauth2's reuse of a token). The id and the secret go in a Basic header. ctx is the
// context of the token requests (its HTTP client, if it carries one as oauth2.HTTPClient).
func ClientCredentials(ctx context.Context, cfg ClientCredentialsConfig) oauth2.TokenSource {
	conf := clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.TokenURL,
		Scopes:       cfg.Scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	if cfg.Audience != "" {
		conf.EndpointParams = url.Values{"resource": {cfg.Audience}}
	}
	return conf.TokenSource(ctx)
}

// StaticToken is a token source that always gives this access token.
func StaticToken(accessToken string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"})
}
