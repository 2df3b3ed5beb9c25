using Keys.ApiKeys;

namespace Keys.KeyAdmin.Data;

/// <summary>What kind of refusal a <see cref="KeyAdminException"/> is, whatever the transport makes of it.</summary>
public enum KeyAdminErrorKind
{
    /// <summary>The request is wrong whatever the state: only a different request can succeed.</summary>
    InvalidArgument,

    NotFound,

    AlreadyExists,

    /// <summary>The request may be right, but not for this resource in its present state.</summary>
    Conflict,
}

/// <summary>
/// A request KeyAdmin refuses, with a stable, machine-readable <see cref="Code"/> beside the human message. Clients
/// act on the codes and people read the messages, so both are part of the API: the factories below are the
/// catalogue. Messages never carry a key value, a key hash or a token: they end up in logs.
/// </summary>
public sealed class KeyAdminException(KeyAdminErrorKind kind, string code, string message) : Exception(message)
{
    public KeyAdminErrorKind Kind { get; } = kind;

    public string Code { get; } = code;

    // Identifiers are echoed only once they have the shape of one: whatever else sits in an ID's place (a pasted API
    // key, say) must not be repeated into error messages, which end up in logs.
    public static KeyAdminException ProjectNotFound(string projectId) =>
        new(KeyAdminErrorKind.NotFound, "PROJECT_NOT_FOUND", ResourceId.IsWellFormed(projectId, ResourceId.ProjectPrefix)
            ? $"Project '{projectId}' does not exist."
            : "No project has this ID: project IDs look like prj_ and 22 letters and digits.");

    public static KeyAdminException EnvironmentNotFound(string projectId, string environment) =>
        new(KeyAdminErrorKind.NotFound, "ENVIRONMENT_NOT_FOUND", ProjectStore.IsEnvironmentName(environment)
            ? $"Project '{projectId}' has no environment '{environment}'."
            : "The project has no environment of this name: environment names are lowercase letters, digits and '-'.");

    public static KeyAdminException KeyNotFound(string keyId, string environment) =>
        new(KeyAdminErrorKind.NotFound, "KEY_NOT_FOUND", ResourceId.IsWellFormed(keyId, ResourceId.KeyPrefix)
            ? $"Key '{keyId}' does not exist in environment '{environment}'."
            : "No key has this ID: key IDs look like key_ and 22 letters and digits (not the key itself).");

    public static KeyAdminException EnvironmentExists(string projectId, string environment) =>
        new(KeyAdminErrorKind.AlreadyExists, "ENVIRONMENT_EXISTS", $"Project '{projectId}' already has an environment '{environment}'.");

    public static KeyAdminException KeyNameTaken(string name, string environment) =>
        new(KeyAdminErrorKind.AlreadyExists, "KEY_NAME_TAKEN", $"A key named '{name}' already exists in environment '{environment}'.");

    public static KeyAdminException ConfirmNameMismatch() =>
        new(KeyAdminErrorKind.InvalidArgument, "CONFIRM_NAME_MISMATCH", "confirmName does not match the key's name; nothing was deleted.");

    public static KeyAdminException KeyAlreadyRolled(string keyId, DateTime stopsAt) =>
        new(KeyAdminErrorKind.Conflict, "KEY_ALREADY_ROLLED",
            $"Key '{keyId}' was already rolled and stops working at {stopsAt:O}; roll its replacement instead.");

    public static KeyAdminException KeyRevoked(string keyId) =>
        new(KeyAdminErrorKind.Conflict, "KEY_REVOKED", $"Key '{keyId}' was deleted or rolled and no longer works; create a new key instead.");

    public static KeyAdminException KeyExpired(string keyId, DateTime expiredAt) =>
        new(KeyAdminErrorKind.Conflict, "KEY_EXPIRED", $"Key '{keyId}' expired at {expiredAt:O}; create a new key instead.");

    /// <summary>
    /// FindKey's answer for a key that does not exist and for one outside the caller's projects alike, so that a
    /// limited token cannot learn that a value is some other project's key. It names nothing of the value.
    /// </summary>
    public static KeyAdminException KeyNotFoundByValue() =>
        new(KeyAdminErrorKind.NotFound, "KEY_NOT_FOUND", "No key with this value exists in the projects this token may see.");

    public static KeyAdminException AllowlistNotForKeyType(ApiKeyType type) => type == ApiKeyType.Publishable
        ? new(KeyAdminErrorKind.InvalidArgument, "ALLOWLIST_NOT_FOR_KEY_TYPE",
            "allowedCidrs is for secret keys, which servers send from known networks; a publishable key is limited by allowedOrigins.")
        : new(KeyAdminErrorKind.InvalidArgument, "ALLOWLIST_NOT_FOR_KEY_TYPE",
            "allowedOrigins is for publishable keys, which browsers send with an Origin; a secret key is limited by allowedCidrs.");

    public static KeyAdminException ExpiryRequired(string projectId, int maxLifetimeDays) =>
        new(KeyAdminErrorKind.InvalidArgument, "EXPIRY_REQUIRED",
            $"Project '{projectId}' requires secret keys to expire within {maxLifetimeDays} days: give expiresAt.");

    public static KeyAdminException ExpiryTooLong(string projectId, int maxLifetimeDays, DateTime latest) =>
        new(KeyAdminErrorKind.InvalidArgument, "EXPIRY_TOO_LONG",
            $"Project '{projectId}' requires secret keys to expire within {maxLifetimeDays} days: expiresAt must be no later than {latest:O}.");

    public static KeyAdminException OperatorNotFound(string operatorId) =>
        new(KeyAdminErrorKind.NotFound, "OPERATOR_NOT_FOUND", ResourceId.IsWellFormed(operatorId, ResourceId.OperatorPrefix)
            ? $"Operator '{operatorId}' does not exist."
            : "No operator has this ID: operator IDs look like opr_ and 22 letters and digits (not the token itself).");

    public static KeyAdminException OperatorNameTaken(string name) =>
        new(KeyAdminErrorKind.AlreadyExists, "OPERATOR_NAME_TAKEN", $"An operator named '{name}' already exists; revoke it first or choose another name.");

    public static KeyAdminException OperatorRevoked(string operatorId, DateTime revokedAt) =>
        new(KeyAdminErrorKind.Conflict, "OPERATOR_REVOKED", $"Operator '{operatorId}' was already revoked at {revokedAt:O}.");
}
