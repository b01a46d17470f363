package auth

import (
	"context"
	"net/http"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/role"
)

// The methods below manage users and tokens. They validate every field
// (bad ones are 400s naming the field) and leave everything unchanged when
// they fail. Callers check that the caller may do it (admin, or the user
// acting on itself).

// Users lists every user.
func (s *Service) Users() []User { return s.users.users() }

// User returns one user, or a 404.
func (s *Service) User(name string) (User, error) {
	u, ok := s.users.user(name)
	if !ok {
		return User{}, errNotFound("user")
	}
	return u, nil
}

// CreateUser adds a user.
func (s *Service) CreateUser(ctx context.Context, name, password string, roles role.Set) (User, error) {
	u, err := s.users.create(ctx, name, password, roles)
	if err == nil {
		s.log.Info("user created", "user", name, "roles", roles.String())
	}
	return u, err
}

// SetRoles replaces a user's roles; the user's tokens lose any role the
// user no longer has.
func (s *Service) SetRoles(name string, roles role.Set) (User, error) {
	u, err := s.users.setRoles(name, roles)
	if err == nil {
		s.log.Info("user roles changed", "user", name, "roles", roles.String())
	}
	return u, err
}

// ResetPassword sets a user's password without the old one (admin) and
// ends all of that user's sessions.
func (s *Service) ResetPassword(ctx context.Context, name, password string) (User, error) {
	u, err := s.users.setPassword(ctx, name, password)
	if err != nil {
		return User{}, err
	}
	s.sessions.dropUser(u.id, [32]byte{})
	s.log.Info("password reset", "user", name)
	return u, nil
}

// DeleteUser removes a user, its tokens and its sessions. The admin user
// cannot be deleted.
func (s *Service) DeleteUser(name string) error {
	u, err := s.users.delete(name)
	if err != nil {
		return err
	}
	s.sessions.dropUser(u.id, [32]byte{})
	s.log.Info("user deleted", "user", name)
	return nil
}

// CreateToken makes an API token for user with at most the user's roles.
// The returned secret is shown only this once. A token cannot mint
// tokens: by asks, and must not itself be a token.
func (s *Service) CreateToken(by Principal, user, name string, roles role.Set) (Token, string, error) {
	if by.Method == MethodToken {
		return Token{}, "", apierr.New(http.StatusForbidden, "API tokens cannot create tokens; log in with a password")
	}
	t, secret, err := s.users.createToken(user, name, roles)
	if err == nil {
		s.log.Info("token created", "user", user, "token", t.ID, "by", by.User, "roles", roles.String())
	}
	return t, secret, err
}

// Tokens lists a user's tokens without their secrets.
func (s *Service) Tokens(user string) ([]Token, error) { return s.users.tokens(user) }

// RevokeToken deletes a token; requests using it fail from then on.
func (s *Service) RevokeToken(user, id string) error {
	err := s.users.revokeToken(user, id)
	if err == nil {
		s.log.Info("token revoked", "user", user, "token", id)
	}
	return err
}
