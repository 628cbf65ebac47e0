package openstacktest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// keystoneTime is how Keystone renders token times.
const keystoneTime = "2006-01-02T15:04:05.000000Z"

type tokenInfo struct {
	expiresAt time.Time
	issuedAt  time.Time
	projectID string // empty for an unscoped token, which Neutron and Nova refuse
	methods   []string
	auditID   string
	roles     []string // the user's roles on the project; none unscoped
}

// isAdmin is Nova's default admin policy (role:admin) for the token.
func (t tokenInfo) isAdmin() bool { return slices.Contains(t.roles, "admin") }

type catalogService struct {
	typ, name     string
	versionSuffix string // appended to the mount prefix in the catalog URL
}

// catalogServices is in the order Keystone tends to list them; clients must
// not rely on it.
var catalogServices = []catalogService{
	{typ: "compute", name: "nova", versionSuffix: "/v2.1"},
	{typ: "identity", name: "keystone", versionSuffix: "/v3"},
	{typ: "network", name: "neutron"},
}

// Keystone request bodies, only as deep as the checks below need.
type authRequest struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					ID       string     `json:"id"`
					Name     string     `json:"name"`
					Password *string    `json:"password"`
					Domain   *domainRef `json:"domain"`
				} `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				ID     string     `json:"id"`
				Name   string     `json:"name"`
				Domain *domainRef `json:"domain"`
			} `json:"project"`
			Domain *domainRef `json:"domain"`
			System any        `json:"system"`
		} `json:"scope"`
	} `json:"auth"`
}

type domainRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) serveKeystone(w http.ResponseWriter, r *http.Request, m match) {
	switch m.route {
	case RouteVersions:
		if !allowMethods(w, r, svcKeystone, http.MethodGet, http.MethodHead) {
			return
		}
		if len(splitPath(m.rest)) == 0 {
			// Keystone answers its unversioned root with 300 Multiple Choices.
			writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{keystoneVersion(r, m)}}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": keystoneVersion(r, m)})
	case RouteTokens:
		switch r.Method {
		case http.MethodPost:
			s.issueToken(w, r)
		case http.MethodGet, http.MethodHead:
			s.validateToken(w, r)
		case http.MethodDelete:
			s.revokeToken(w, r)
		default:
			methodNotAllowed(w, svcKeystone, http.MethodPost, http.MethodGet, http.MethodHead, http.MethodDelete)
		}
	default:
		writeError(w, svcKeystone, http.StatusNotFound, "The resource could not be found.", "")
	}
}

func keystoneVersion(r *http.Request, m match) map[string]any {
	return map[string]any{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []any{map[string]any{"rel": "self", "href": baseURL(r) + m.prefix + "/v3/"}},
		"media-types": []any{map[string]any{
			"base": "application/json", "type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

const badRequestSuffix = " The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error."

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	var req authRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, svcKeystone, http.StatusBadRequest, "Malformed request body."+badRequestSuffix, "")
		return
	}
	token, body, status, msg := s.authenticate(req, baseURL(r))
	switch status {
	case 0:
		w.Header().Set("X-Subject-Token", token)
		writeJSON(w, http.StatusCreated, body)
	case http.StatusUnauthorized:
		unauthorized(w, r)
	default:
		writeError(w, svcKeystone, status, msg, "")
	}
}

// authenticate checks a token request against the one known user and, on
// success (status 0), records and renders a new token. The response is
// written by the caller, outside s.mu, so a slow client holds no lock.
func (s *Server) authenticate(req authRequest, base string) (token string, body map[string]any, status int, msg string) {
	if req.Auth == nil || req.Auth.Identity == nil {
		return "", nil, http.StatusBadRequest, "Expecting to find identity in auth." + badRequestSuffix
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		return "", nil, http.StatusBadRequest, "Expecting to find methods in identity." + badRequestSuffix
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	creds := s.creds
	for _, method := range id.Methods {
		switch method {
		case "password":
			if id.Password == nil || id.Password.User == nil {
				return "", nil, http.StatusBadRequest, "Expecting to find user in password." + badRequestSuffix
			}
			u := id.Password.User
			if u.ID == "" && u.Domain == nil {
				return "", nil, http.StatusBadRequest, "Expecting to find domain in user." + badRequestSuffix
			}
			if u.Password == nil {
				return "", nil, http.StatusBadRequest, "Expecting to find password in user." + badRequestSuffix
			}
			userOK := u.ID != "" && u.ID == userID(creds) ||
				u.ID == "" && u.Name == creds.UserName && matchesDomain(u.Domain, creds)
			if !userOK || *u.Password != creds.Password {
				return "", nil, http.StatusUnauthorized, ""
			}
		case "token":
			if id.Token == nil {
				return "", nil, http.StatusBadRequest, "Expecting to find token in identity." + badRequestSuffix
			}
			if t, ok := s.tokens[id.Token.ID]; !ok || !now.Before(t.expiresAt) {
				return "", nil, http.StatusUnauthorized, ""
			}
		default:
			return "", nil, http.StatusUnauthorized, ""
		}
	}

	projectID := ""
	var roles []string
	if sc := req.Auth.Scope; sc != nil {
		switch {
		case sc.Project != nil:
			p := sc.Project
			byID := p.ID != "" && p.ID == creds.ProjectID
			byName := p.ID == "" && p.Name == creds.ProjectName && matchesDomain(p.Domain, creds)
			if !byID && !byName {
				return "", nil, http.StatusUnauthorized, ""
			}
			projectID, roles = creds.ProjectID, slices.Clone(creds.Roles)
		case sc.Domain != nil, sc.System != nil:
			// The user has no domain or system role assignments here.
			return "", nil, http.StatusUnauthorized, ""
		}
	}

	token = newTokenID()
	info := tokenInfo{issuedAt: now, expiresAt: now.Add(s.tokenTTL), projectID: projectID, methods: id.Methods, auditID: randomString(22), roles: roles}
	s.tokens[token] = info
	return token, s.tokenBody(base, info), 0, ""
}

// lookupTokens reads the caller's (X-Auth-Token) and the subject's
// (X-Subject-Token) token for validation and revocation.
func (s *Server) lookupTokens(r *http.Request) (caller, subject bool, info tokenInfo) {
	now := s.now()
	c, ok := s.tokens[r.Header.Get("X-Auth-Token")]
	if !ok || !now.Before(c.expiresAt) {
		return false, false, tokenInfo{}
	}
	info, ok = s.tokens[r.Header.Get("X-Subject-Token")]
	return true, ok && now.Before(info.expiresAt), info
}

// validateToken is GET /v3/auth/tokens: X-Auth-Token authorises, the token
// to look at is in X-Subject-Token.
func (s *Server) validateToken(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	callerOK, subjectOK, info := s.lookupTokens(r)
	var body map[string]any
	if subjectOK {
		body = s.tokenBody(baseURL(r), info)
	}
	s.mu.RUnlock()
	switch {
	case !callerOK:
		unauthorized(w, r)
	case !subjectOK:
		// Keystone does not repeat the token in this message, nor do we.
		writeError(w, svcKeystone, http.StatusNotFound, "Failed to validate token", "")
	default:
		w.Header().Set("X-Subject-Token", r.Header.Get("X-Subject-Token"))
		writeJSON(w, http.StatusOK, body)
	}
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	callerOK, subjectOK, _ := s.lookupTokens(r)
	if callerOK && subjectOK {
		delete(s.tokens, r.Header.Get("X-Subject-Token"))
	}
	s.mu.Unlock()
	switch {
	case !callerOK:
		unauthorized(w, r)
	case !subjectOK:
		writeError(w, svcKeystone, http.StatusNotFound, "Failed to validate token", "")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// tokenBody renders a token the way Keystone does; the caller holds s.mu.
func (s *Server) tokenBody(base string, info tokenInfo) map[string]any {
	creds := s.creds
	domain := map[string]any{"id": domainID(creds), "name": creds.UserDomainName}
	token := map[string]any{
		"methods":    info.methods,
		"expires_at": info.expiresAt.UTC().Format(keystoneTime),
		"issued_at":  info.issuedAt.UTC().Format(keystoneTime),
		"audit_ids":  []string{info.auditID},
		"user": map[string]any{
			"domain":              domain,
			"id":                  userID(creds),
			"name":                creds.UserName,
			"password_expires_at": nil,
		},
	}
	if info.projectID != "" {
		token["is_domain"] = false
		token["project"] = map[string]any{"domain": domain, "id": creds.ProjectID, "name": creds.ProjectName}
		roles := make([]any, 0, len(info.roles))
		for _, role := range info.roles {
			roles = append(roles, map[string]any{"id": hexID("role", role), "name": role})
		}
		token["roles"] = roles
		token["catalog"] = s.catalog(base)
	}
	return map[string]any{"token": token}
}

func (s *Server) catalog(base string) []any {
	var out []any
	for _, svc := range catalogServices {
		if s.omitted[svc.typ] {
			continue
		}
		var eps []any
		for _, iface := range []string{"admin", "internal", "public"} {
			eps = append(eps, map[string]any{
				"id":        hexID("endpoint", svc.typ, iface),
				"interface": iface,
				"region":    s.region,
				"region_id": s.region,
				"url":       base + mountPrefix(svc.typ, iface) + svc.versionSuffix,
			})
		}
		out = append(out, map[string]any{
			"endpoints": eps,
			"id":        hexID("service", svc.typ),
			"name":      svc.name,
			"type":      svc.typ,
		})
	}
	if out == nil {
		out = []any{}
	}
	return out
}

func matchesDomain(d *domainRef, c Credentials) bool {
	if d == nil {
		return false
	}
	if d.ID != "" {
		return d.ID == domainID(c)
	}
	return d.Name == c.UserDomainName
}

// domainID follows Keystone, whose built-in domain has ID "default".
func domainID(c Credentials) string {
	if strings.EqualFold(c.UserDomainName, "default") {
		return "default"
	}
	return hexID("domain", c.UserDomainName)
}

func userID(c Credentials) string { return hexID("user", c.UserDomainName, c.UserName) }

// checkToken is keystonemiddleware in front of Neutron and Nova: a valid,
// unexpired, project-scoped token or 401. It returns the token (its project
// and roles).
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request) (tokenInfo, bool) {
	s.mu.RLock()
	info, ok := s.tokens[r.Header.Get("X-Auth-Token")]
	now := s.now()
	s.mu.RUnlock()
	if !ok || !now.Before(info.expiresAt) || info.projectID == "" {
		unauthorized(w, r)
		return tokenInfo{}, false
	}
	return info, true
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Keystone uri="`+baseURL(r)+`/v3"`)
	writeError(w, svcKeystone, http.StatusUnauthorized, "The request you have made requires authentication.", "")
}

// newTokenID looks like a Fernet token: opaque, URL-safe, ~180 characters.
func newTokenID() string {
	return "gAAAAA" + randomString(128)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
