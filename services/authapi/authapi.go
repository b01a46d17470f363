// Package authapi puts package auth on the REST API: login, logout,
// password change and the caller's own API tokens under /API/auth, and
// user and token management for admins under /API/system/users.
//
//	authapi.Register(router, authService)
//
// Routes (bodies are JSON; the login also takes a form):
//
//	POST   /API/auth/login        {"username","password"} -> session cookie + {"user","roles","csrfToken"}
//	POST   /API/auth/logout
//	GET    /API/auth/session      who is calling, with which roles (and the CSRF token of a cookie session)
//	POST   /API/auth/password     {"oldPassword","newPassword"}
//	GET    /API/auth/tokens       the caller's tokens
//	POST   /API/auth/tokens       {"name","roles"} -> {..., "secret"} (shown once)
//	DELETE /API/auth/tokens/:token
//	GET    /API/system/users                      admin
//	POST   /API/system/users      {"name","password","roles"}
//	GET    /API/system/users/:user
//	PUT    /API/system/users/:user {"roles"} and/or {"password"}
//	DELETE /API/system/users/:user
//	GET    /API/system/users/:user/tokens
//	POST   /API/system/users/:user/tokens {"name","roles"}
//	DELETE /API/system/users/:user/tokens/:token
package authapi

import (
	"bytes"
	"io"
	"net/http"
	"net/url"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/role"
)

type handlers struct {
	auth *auth.Service
}

// Register adds the routes to rt.
func Register(rt *api.Router, a *auth.Service) {
	h := &handlers{auth: a}
	rt.HandlePublic("POST", "/API/auth/login", h.login)
	rt.Handle("POST", "/API/auth/logout", 0, h.logout)
	rt.Handle("GET", "/API/auth/session", 0, h.session)
	rt.Handle("POST", "/API/auth/password", 0, h.changePassword)
	rt.Handle("GET", "/API/auth/tokens", 0, h.ownTokens)
	rt.Handle("POST", "/API/auth/tokens", 0, h.createOwnToken)
	rt.Handle("DELETE", "/API/auth/tokens/:token", 0, h.revokeOwnToken)

	rt.Handle("GET", "/API/system/users", role.Admin, h.listUsers)
	rt.Handle("POST", "/API/system/users", role.Admin, h.createUser)
	rt.Handle("GET", "/API/system/users/:user", role.Admin, h.getUser)
	rt.Handle("PUT", "/API/system/users/:user", role.Admin, h.updateUser)
	rt.Handle("DELETE", "/API/system/users/:user", role.Admin, h.deleteUser)
	rt.Handle("GET", "/API/system/users/:user/tokens", role.Admin, h.userTokens)
	rt.Handle("POST", "/API/system/users/:user/tokens", role.Admin, h.createUserToken)
	rt.Handle("DELETE", "/API/system/users/:user/tokens/:token", role.Admin, h.revokeUserToken)
}

// maxLoginBody bounds the login body: a name, a password, some syntax.
const maxLoginBody = 4 << 10

// Credentials is a login request.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ParseLogin reads a login body: a JSON object {"username","password"},
// or a form username=...&password=... . The body is sniffed rather than
// trusted to its Content-Type, because curl -d '{...}' labels JSON as a
// form.
func ParseLogin(body []byte) (Credentials, error) {
	var c Credentials
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := api.DecodeJSON(bytes.NewReader(body), &c); err != nil {
			return Credentials{}, err
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return Credentials{}, apierr.New(http.StatusBadRequest, "login body: want JSON or a form: %v", err)
		}
		for k := range form {
			if k != "username" && k != "password" {
				return Credentials{}, apierr.BadParam(k, "unknown field")
			}
		}
		c.Username, c.Password = form.Get("username"), form.Get("password")
	}
	if c.Username == "" {
		return Credentials{}, apierr.BadParam("username", "required")
	}
	if c.Password == "" {
		return Credentials{}, apierr.BadParam("password", "required")
	}
	return c, nil
}

type whoami struct {
	User      string   `json:"user"`
	Roles     role.Set `json:"roles"`
	Method    string   `json:"method"`
	CSRFToken string   `json:"csrfToken,omitempty"`
}

func describe(p auth.Principal) whoami {
	return whoami{User: p.User, Roles: p.Roles, Method: p.Method.String(), CSRFToken: p.CSRFToken}
}

func (h *handlers) login(r *api.Request) (any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(r.Writer(), r.HTTP.Body, maxLoginBody))
	if err != nil {
		return nil, err
	}
	c, err := ParseLogin(body)
	if err != nil {
		return nil, err
	}
	p, err := h.auth.Login(r.Writer(), r.HTTP, c.Username, c.Password)
	if err != nil {
		return nil, err
	}
	return describe(p), nil
}

func (h *handlers) logout(r *api.Request) (any, error) {
	h.auth.Logout(r.Writer(), r.Principal)
	return nil, nil
}

func (h *handlers) session(r *api.Request) (any, error) { return describe(r.Principal), nil }

func (h *handlers) changePassword(r *api.Request) (any, error) {
	var body struct {
		OldPassword string `json:"oldPassword"`
		NewPassword string `json:"newPassword"`
	}
	if err := r.DecodeJSON(&body); err != nil {
		return nil, err
	}
	return nil, h.auth.ChangePassword(r.HTTP, r.Principal, body.OldPassword, body.NewPassword)
}

type tokenRequest struct {
	Name  string    `json:"name"`
	Roles *role.Set `json:"roles"`
}

type createdToken struct {
	auth.Token
	// Secret is the value for "Authorization: Bearer ...". It is shown
	// only in this answer; the appliance keeps just its hash.
	Secret string `json:"secret"`
}

func (h *handlers) createToken(r *api.Request, user string) (any, error) {
	var body tokenRequest
	if err := r.DecodeJSON(&body); err != nil {
		return nil, err
	}
	if body.Roles == nil {
		return nil, apierr.BadParam("roles", "required")
	}
	t, secret, err := h.auth.CreateToken(r.Principal, user, body.Name, *body.Roles)
	if err != nil {
		return nil, err
	}
	return api.WithStatus(http.StatusCreated, createdToken{Token: t, Secret: secret}), nil
}

func (h *handlers) listTokens(user string) (any, error) {
	ts, err := h.auth.Tokens(user)
	if err != nil {
		return nil, err
	}
	return map[string][]auth.Token{"tokens": ts}, nil
}

func (h *handlers) ownTokens(r *api.Request) (any, error) { return h.listTokens(r.Principal.User) }

func (h *handlers) createOwnToken(r *api.Request) (any, error) {
	return h.createToken(r, r.Principal.User)
}

func (h *handlers) revokeOwnToken(r *api.Request) (any, error) {
	return nil, h.auth.RevokeToken(r.Principal.User, r.Param("token"))
}

func (h *handlers) listUsers(*api.Request) (any, error) {
	return map[string][]auth.User{"users": h.auth.Users()}, nil
}

func (h *handlers) createUser(r *api.Request) (any, error) {
	var body struct {
		Name     string    `json:"name"`
		Password string    `json:"password"`
		Roles    *role.Set `json:"roles"`
	}
	if err := r.DecodeJSON(&body); err != nil {
		return nil, err
	}
	if body.Roles == nil {
		return nil, apierr.BadParam("roles", "required")
	}
	u, err := h.auth.CreateUser(r.HTTP.Context(), body.Name, body.Password, *body.Roles)
	if err != nil {
		return nil, err
	}
	return api.WithStatus(http.StatusCreated, u), nil
}

func (h *handlers) getUser(r *api.Request) (any, error) { return h.auth.User(r.Param("user")) }

func (h *handlers) updateUser(r *api.Request) (any, error) {
	var body struct {
		Roles    *role.Set `json:"roles"`
		Password *string   `json:"password"`
	}
	if err := r.DecodeJSON(&body); err != nil {
		return nil, err
	}
	name := r.Param("user")
	if body.Roles == nil && body.Password == nil {
		return nil, apierr.New(http.StatusBadRequest, "nothing to change: give roles and/or password")
	}
	// Validate both fields before changing either, so a bad request
	// changes nothing.
	if body.Password != nil {
		if err := auth.ValidatePassword(*body.Password); err != nil {
			return nil, err
		}
	}
	if body.Roles != nil {
		if _, err := h.auth.SetRoles(name, *body.Roles); err != nil {
			return nil, err
		}
	}
	if body.Password != nil {
		if _, err := h.auth.ResetPassword(r.HTTP.Context(), name, *body.Password); err != nil {
			return nil, err
		}
	}
	return h.auth.User(name)
}

func (h *handlers) deleteUser(r *api.Request) (any, error) {
	return nil, h.auth.DeleteUser(r.Param("user"))
}

func (h *handlers) userTokens(r *api.Request) (any, error) { return h.listTokens(r.Param("user")) }

func (h *handlers) createUserToken(r *api.Request) (any, error) {
	return h.createToken(r, r.Param("user"))
}

func (h *handlers) revokeUserToken(r *api.Request) (any, error) {
	return nil, h.auth.RevokeToken(r.Param("user"), r.Param("token"))
}
