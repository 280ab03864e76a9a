package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// subject is what an event's subject resolves to.
type subject struct {
	user    string // the access tokens' "sub"
	session string // their "sid"
	jti     string // one token's "jti"
}

// Why a subject is ignored (Event.Reason).
const (
	reasonOtherIssuer    = "other_issuer"
	reasonUnknownSubject = "unknown_subject"
)

const maxAliases = 16

// resolve reads a subject identifier (RFC 9493, SSF 1.0 §3): "iss_sub",
// "opaque", "aliases", the SSF complex subject with "user" and "session"
// members, "jwt_id" for token events, and any other format through
// Config.ResolveSubject. why is set when the subject is to be ignored (of
// another issuer, or unknown); err when it is malformed.
func (r *Receiver) resolve(ctx context.Context, raw json.RawMessage, token bool) (s subject, why string, err error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return s, "", errors.New("the subject is not a JSON object")
	}
	format, _ := m["format"].(string)
	_, hasUser := m["user"]
	_, hasSession := m["session"]
	switch {
	case token:
		if format != "jwt_id" {
			return s, reasonUnknownSubject, nil // a token hash or other form: tokens are known here by jti only
		}
		jti, ok1 := m["jti"].(string)
		iss, hasIss := m["iss"]
		issStr, ok2 := iss.(string)
		switch {
		case !ok1 || jti == "" || hasIss && !ok2:
			return s, "", errors.New(`a "jwt_id" subject needs a "jti" string`)
		case hasIss && issStr != r.issuer:
			return s, reasonOtherIssuer, nil
		}
		s.jti = jti
		return s, "", nil
	case format == "complex" || format == "" && (hasUser || hasSession):
		if u, ok := m["user"]; ok {
			um, ok := u.(map[string]any)
			if !ok {
				return s, "", errors.New(`the complex subject's "user" is not an object`)
			}
			if s.user, why, err = r.user(ctx, um, 0); err != nil || why == reasonOtherIssuer {
				return s, why, err
			}
		}
		if sess, ok := m["session"]; ok {
			sm, ok := sess.(map[string]any)
			if !ok {
				return s, "", errors.New(`the complex subject's "session" is not an object`)
			}
			if f, _ := sm["format"].(string); f == "opaque" {
				id, ok := sm["id"].(string)
				if !ok || id == "" {
					return s, "", errors.New(`an "opaque" subject needs an "id" string`)
				}
				s.session = id
			}
		}
		if s.user == "" && s.session == "" {
			return s, reasonUnknownSubject, nil
		}
		return s, "", nil
	}
	s.user, why, err = r.user(ctx, m, 0)
	return s, why, err
}

// user resolves a subject identifier of a user to the tokens' "sub".
func (r *Receiver) user(ctx context.Context, m map[string]any, depth int) (string, string, error) {
	format, ok := m["format"].(string)
	if !ok || format == "" {
		return "", "", errors.New(`the subject has no "format"`)
	}
	switch format {
	case "iss_sub":
		iss, ok1 := m["iss"].(string)
		sub, ok2 := m["sub"].(string)
		switch {
		case !ok1 || !ok2 || iss == "" || sub == "":
			return "", "", errors.New(`an "iss_sub" subject needs "iss" and "sub" strings`)
		case iss != r.issuer:
			return "", reasonOtherIssuer, nil
		}
		return sub, "", nil
	case "opaque":
		id, ok := m["id"].(string)
		if !ok || id == "" {
			return "", "", errors.New(`an "opaque" subject needs an "id" string`)
		}
		return id, "", nil
	case "aliases":
		list, ok := m["identifiers"].([]any)
		if !ok || len(list) == 0 || depth > 0 {
			return "", "", errors.New(`an "aliases" subject needs a non-empty "identifiers" array, not nested`)
		}
		if len(list) > maxAliases {
			return "", "", fmt.Errorf(`an "aliases" subject with more than %d identifiers`, maxAliases)
		}
		why := reasonUnknownSubject
		for _, item := range list {
			im, ok := item.(map[string]any)
			if !ok {
				return "", "", errors.New(`an "aliases" identifier is not an object`)
			}
			sub, w, err := r.user(ctx, im, depth+1)
			if err != nil {
				return "", "", err
			}
			if sub != "" {
				return sub, "", nil
			}
			if w == reasonOtherIssuer {
				why = w
			}
		}
		return "", why, nil
	}
	if r.cfg.ResolveSubject == nil {
		return "", reasonUnknownSubject, nil
	}
	if sub, ok := r.cfg.ResolveSubject(ctx, m); ok && sub != "" {
		return sub, "", nil
	}
	return "", reasonUnknownSubject, nil
}
