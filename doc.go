// Package accesstoken validates OAuth 2.0 access tokens on the resource server.
package accesstoken
