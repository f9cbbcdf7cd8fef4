// Package directory manages the identity provider's users (Amazon Cognito) for the controller API:
// invite, change role, remove.
//
// The user pool signs users in with their e-mail address (UsernameAttributes=email), so Cognito names
// each user by a generated UUID, the sub attribute: Invite returns it, and every later call takes it as
// the user ID. A user's role is their Cognito group (access.Admin, access.Member or access.Support);
// controller staff also carry their tenant in custom:tenant_id. In Lambda the client talks to Cognito
// itself; locally the same client talks to infra/local/cognitolocal.
//
// E-mail addresses are personal data: this package never logs them or puts them in an error.
package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"leadvault/shared/access"
)

// CognitoAPI is the part of the Cognito Identity Provider API the directory uses;
// *cognitoidentityprovider.Client implements it.
type CognitoAPI interface {
	AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, optFns ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminAddUserToGroup(ctx context.Context, in *cip.AdminAddUserToGroupInput, optFns ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
	AdminRemoveUserFromGroup(ctx context.Context, in *cip.AdminRemoveUserFromGroupInput, optFns ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error)
	AdminUserGlobalSignOut(ctx context.Context, in *cip.AdminUserGlobalSignOutInput, optFns ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error)
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, optFns ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
}

// Cognito manages the users of one user pool.
type Cognito struct {
	api    CognitoAPI
	poolID string
}

// New returns a directory for the user pool userPoolID, reached through c.
func New(c CognitoAPI, userPoolID string) *Cognito {
	return &Cognito{api: c, poolID: userPoolID}
}

// ErrExists is returned (wrapped) by Invite and InviteStaff when the pool already has a user with the
// e-mail address.
var ErrExists = errors.New("a user with this e-mail address already exists")

// Attribute names in the user pool.
const (
	attrSub           = "sub"
	attrEmail         = "email"
	attrEmailVerified = "email_verified"
	attrTenant        = access.ClaimTenant // custom:tenant_id
)

// compensateTimeout bounds the clean-up of a half-created user, which runs even when the caller's
// context is already done.
const compensateTimeout = 10 * time.Second

// Invite creates a controller user of tenant with role (access.Admin or access.Member from
// leadvault/shared/access), e-mails them a temporary password (Cognito's invitation), and returns their
// user ID (the sub attribute).
//
// If the pool has a user with the address already, the error wraps ErrExists. The invitation is mailed
// only once the user is in the role's group; if that fails, the new user is deleted again, unmailed, and
// the error returned.
func (c *Cognito) Invite(ctx context.Context, tenant, email string, role access.Role) (userID string, err error) {
	if tenant == "" {
		return "", errors.New("invite user: no tenant")
	}
	if role != access.Admin && role != access.Member {
		return "", fmt.Errorf("invite user: role %q is not a controller role (admin or member)", role)
	}
	return c.create(ctx, email, tenant, role)
}

// InviteStaff creates a processor support user (group support, no tenant attribute), e-mails them a
// temporary password and returns their user ID, like Invite.
func (c *Cognito) InviteStaff(ctx context.Context, email string) (userID string, err error) {
	return c.create(ctx, email, "", access.Support)
}

// create makes the user, with the tenant attribute unless tenant is empty, and puts them in group.
func (c *Cognito) create(ctx context.Context, email, tenant string, group access.Role) (string, error) {
	if email == "" {
		return "", errors.New("invite user: no e-mail address")
	}
	attrs := []types.AttributeType{
		{Name: aws.String(attrEmail), Value: aws.String(email)},
		{Name: aws.String(attrEmailVerified), Value: aws.String("true")},
	}
	if tenant != "" {
		attrs = append(attrs, types.AttributeType{Name: aws.String(attrTenant), Value: aws.String(tenant)})
	}
	// The invitation is held back until the user has their role: a failed group change then deletes a user
	// nobody was told about.
	out, err := c.api.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId:     aws.String(c.poolID),
		Username:       aws.String(email),
		UserAttributes: attrs,
		MessageAction:  types.MessageActionTypeSuppress,
	})
	if err != nil {
		if _, ok := errors.AsType[*types.UsernameExistsException](err); ok {
			return "", fmt.Errorf("invite user: %w: %w", ErrExists, err)
		}
		return "", fmt.Errorf("invite user: %w", err)
	}
	sub := subOf(out.User)
	if sub == "" {
		// Cognito always returns the user; without an ID the user cannot be managed, or deleted here.
		return "", errors.New("invite user: Cognito returned no user ID")
	}
	err = c.addToGroup(ctx, sub, group)
	if err == nil {
		_, err = c.api.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
			UserPoolId:             aws.String(c.poolID),
			Username:               aws.String(email),
			MessageAction:          types.MessageActionTypeResend,
			DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail},
		})
	}
	if err != nil {
		err = fmt.Errorf("invite user: %w", err)
		// Compensate even when ctx is done, so no user without a role is left behind.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compensateTimeout)
		defer cancel()
		if derr := c.deleteUser(cctx, sub); derr != nil {
			return "", errors.Join(err, fmt.Errorf("invite user: remove the half-created user %s: %w", sub, derr))
		}
		return "", err
	}
	return sub, nil
}

// subOf returns the user's sub attribute, or else their username, which is the sub in a pool that
// signs in by e-mail.
func subOf(u *types.UserType) string {
	if u == nil {
		return ""
	}
	for _, a := range u.Attributes {
		if aws.ToString(a.Name) == attrSub && aws.ToString(a.Value) != "" {
			return aws.ToString(a.Value)
		}
	}
	return aws.ToString(u.Username)
}

// SetRole moves the user from group from to group to (add first, then remove, so the user is never in
// no group). Both must be controller roles (access.Admin, access.Member); from == to does nothing. If
// the removal fails, the user is left in both groups, and access.FromClaims gives them the stronger
// role, until a retry succeeds.
func (c *Cognito) SetRole(ctx context.Context, userID string, from, to access.Role) error {
	if userID == "" {
		return errors.New("set role: no user ID")
	}
	for _, r := range []access.Role{from, to} {
		if r != access.Admin && r != access.Member {
			return fmt.Errorf("set role: role %q is not a controller role (admin or member)", r)
		}
	}
	if from == to {
		return nil
	}
	if err := c.addToGroup(ctx, userID, to); err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	if _, err := c.api.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{
		UserPoolId: aws.String(c.poolID),
		Username:   aws.String(userID),
		GroupName:  aws.String(string(from)),
	}); err != nil {
		return fmt.Errorf("set role: remove user %s from group %s: %w", userID, from, err)
	}
	return nil
}

// Remove signs the user out everywhere and deletes them; an unknown user is not an error (idempotent
// retry).
func (c *Cognito) Remove(ctx context.Context, userID string) error {
	if userID == "" {
		return errors.New("remove user: no user ID")
	}
	if _, err := c.api.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{
		UserPoolId: aws.String(c.poolID),
		Username:   aws.String(userID),
	}); err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("remove user %s: sign out: %w", userID, err)
	}
	if err := c.deleteUser(ctx, userID); err != nil {
		return fmt.Errorf("remove user %s: %w", userID, err)
	}
	return nil
}

// addToGroup puts the user in the role's group.
func (c *Cognito) addToGroup(ctx context.Context, userID string, role access.Role) error {
	if _, err := c.api.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{
		UserPoolId: aws.String(c.poolID),
		Username:   aws.String(userID),
		GroupName:  aws.String(string(role)),
	}); err != nil {
		return fmt.Errorf("add user %s to group %s: %w", userID, role, err)
	}
	return nil
}

// deleteUser deletes the user; one that does not exist is already deleted.
func (c *Cognito) deleteUser(ctx context.Context, userID string) error {
	if _, err := c.api.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{
		UserPoolId: aws.String(c.poolID),
		Username:   aws.String(userID),
	}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// isNotFound reports whether err is Cognito's UserNotFoundException.
func isNotFound(err error) bool {
	_, ok := errors.AsType[*types.UserNotFoundException](err)
	return ok
}
