using System.Collections.Frozen;

namespace Keys.KeyAdmin.OpenApi;

/// <summary>A stable error code (<c>ErrorInfo.reason</c>), the HTTP status it comes with, and when it is answered.</summary>
public sealed record ErrorReason(string Code, int Status, string When);

/// <summary>
/// How the OpenAPI document presents one RPC of <c>KeyAdminService</c>: its tag, a summary when the proto comment's
/// first sentence will not do, and every reason it can refuse with beyond those every operation shares.
/// </summary>
public sealed record OperationEntry(string Tag, string[] Reasons, string? Summary = null)
{
    /// <summary>operationIds of additional HTTP bindings, by path: the first binding takes the RPC's own name.</summary>
    public IReadOnlyDictionary<string, string> AdditionalOperationIds { get; init; } = FrozenDictionary<string, string>.Empty;
}

/// <summary>
/// The one list of which error codes each operation can answer, read by the OpenAPI document (every operation's 4xx
/// and 503 responses with their reasons) and held to the RPCs by a test: an RPC without an entry fails it. A new
/// refusal in a handler belongs here in the same change.
/// </summary>
public static class ErrorCatalog
{
    public const string MalformedJson = "MALFORMED_JSON";
    public const string MethodNotAllowed = "METHOD_NOT_ALLOWED";
    public const string RouteNotFound = "ROUTE_NOT_FOUND";
    public const string RequestTooLarge = "REQUEST_TOO_LARGE";
    public const string UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";

    public static readonly FrozenDictionary<string, ErrorReason> Reasons = new ErrorReason[]
    {
        // The REST layer (Rest/): answered before the RPC runs.
        new(MalformedJson, 400, "the body is not JSON, not an object, has a field the request does not have, or a value of the wrong type or form"),
        new(MethodNotAllowed, 405, "the path exists, with other methods: the Allow header lists them"),
        new(RouteNotFound, 404, "no operation has this path"),
        new(RequestTooLarge, 413, "the body is larger than KeyAdmin:MaxRequestBodyBytes (64 KB); it is not read"),
        new(UnsupportedMediaType, 415, "a body that is not Content-Type: application/json (UTF-8)"),

        // Every operation: who is calling, and whether they may (Grpc/OperatorAuthInterceptor.cs, Access/AccessRules.cs).
        new("UNAUTHORIZED", 401, "no token, or one KeyAdmin does not know"),
        new("TOKEN_REVOKED", 401, "an operator token that was revoked"),
        new("TOKEN_EXPIRED", 401, "an operator token past its expiry"),
        new("ROLE_REQUIRED", 403, "the operator's role does not allow the call; the message names the role needed"),
        new("PROJECT_NOT_ALLOWED", 403, "a token limited to projects, and another project (or all of them)"),
        new("TOO_MANY_REQUESTS", 429, "too many wrong tokens from this address; Retry-After says when to try again"),
        new("STORE_UNAVAILABLE", 503, "Postgres cannot be reached; retry (a change that did not commit was not made)"),

        // Request rules (Grpc/RequestRules.cs) and the data layer (Data/KeyAdminException.cs).
        new("INVALID_PROJECT_NAME", 400, "a project name is 1 to 64 characters, holding no API key or token"),
        new("INVALID_ENVIRONMENT_NAME", 400, "an environment name is 1 to 32 lowercase letters, digits and '-'"),
        new("INVALID_KEY_NAME", 400, "a key name is 1 to 64 letters, digits, '-', '_', '.' and inner spaces, holding no API key or token"),
        new("INVALID_KEY_TYPE", 400, "a key type is 'publishable' or 'secret'"),
        new("INVALID_SCOPE", 400, "a scope is not '{resource}:{operation}', or there are more than 50"),
        new("INVALID_EXPIRY", 400, "expiresAt is not in the future"),
        new("EXPIRY_REQUIRED", 400, "the project's policy requires secret keys to expire"),
        new("EXPIRY_TOO_LONG", 400, "the expiry is further away than the project's policy allows"),
        new("INVALID_RATE_LIMIT", 400, "a rate limit outside 1 to 1,000,000,000 requests per 1 to 86,400 seconds, or an unknown mode"),
        new("INVALID_ALLOWED_CIDRS", 400, "an allowed network that is not a CIDR"),
        new("INVALID_ALLOWED_ORIGINS", 400, "an allowed origin that is not an exact origin such as https://app.example.com, or has a host over 253 characters"),
        new("ALLOWLIST_NOT_FOR_KEY_TYPE", 400, "CIDRs on a publishable key, or origins on a secret key"),
        new("INVALID_METADATA", 400, "metadata that is not an object, is over 1 KB as compact JSON (numbers written out, as Postgres keeps them), or holds an API key, a token or a NUL character"),
        new("INVALID_UPDATE_MASK", 400, "an update mask naming a field that cannot be changed"),
        new("NOTHING_TO_UPDATE", 400, "an update that changes nothing"),
        new("INVALID_LIFETIME_POLICY", 400, "a secret key lifetime outside 1 to 3650 days"),
        new("INVALID_PAGE_SIZE", 400, "a page size outside its range"),
        new("INVALID_PAGE_TOKEN", 400, "a page token this API did not give, or given with other filters"),
        new("INVALID_STATUS_FILTER", 400, "a status that is not active, disabled, expired or rolling"),
        new("INVALID_QUERY", 400, "a search text that is too long, has control characters, or holds an API key or token (send that to FindKey)"),
        new("INVALID_KEY_FORMAT", 400, "not a well-formed API key (the message never repeats it)"),
        new("INVALID_GRACE_PERIOD", 400, "gracePeriodSeconds outside 0 to 30 days"),
        new("INVALID_LIMIT", 400, "limit outside 1 to 1000"),
        new("INVALID_FLUSH_TARGET", 400, "a flush target is 'key-validation' or 'gateways'"),
        new("INVALID_OPERATOR_NAME", 400, "an operator name like a key name, holding no token or key, and not 'admin-token' or 'dashboard'"),
        new("INVALID_ROLE", 400, "a role is 'owner', 'editor' or 'viewer'"),
        new("INVALID_PROJECT_LIMIT", 400, "up to 100 project IDs, for editors and viewers only"),
        new("CONFIRM_NAME_REQUIRED", 400, "a delete without confirmName; nothing is deleted"),
        new("CONFIRM_NAME_MISMATCH", 400, "confirmName is not the key's name; nothing is deleted"),
        new("PROJECT_NOT_FOUND", 404, "no project has this ID (an ID is echoed only when it has the shape of one)"),
        new("ENVIRONMENT_NOT_FOUND", 404, "the project has no environment of this name"),
        new("KEY_NOT_FOUND", 404, "no key has this ID in the environment, or it was deleted"),
        new("OPERATOR_NOT_FOUND", 404, "no operator has this ID"),
        new("KEY_NAME_TAKEN", 409, "a live key of that name exists in the environment"),
        new("ENVIRONMENT_EXISTS", 409, "the project already has that environment"),
        new("OPERATOR_NAME_TAKEN", 409, "an operator of that name is not revoked"),
        new("OPERATOR_REVOKED", 409, "the operator was already revoked"),
        new("KEY_ALREADY_ROLLED", 409, "the key is in its grace period after a roll: roll its replacement"),
        new("KEY_REVOKED", 409, "the key was deleted or is past its grace period"),
        new("KEY_EXPIRED", 409, "the key has expired: it cannot be rolled, nor given a new expiry"),
        new("FLUSH_UNAVAILABLE", 503, "Redis, which carries a flush to KeyValidation, cannot be reached; nothing was flushed"),
    }.ToFrozenDictionary(r => r.Code, StringComparer.Ordinal);

    /// <summary>What every operation can answer, whatever its request: the caller's credential, role and the database.</summary>
    public static readonly string[] EveryOperation =
        ["UNAUTHORIZED", "TOKEN_REVOKED", "TOKEN_EXPIRED", "ROLE_REQUIRED", "PROJECT_NOT_ALLOWED", "TOO_MANY_REQUESTS", "STORE_UNAVAILABLE"];

    /// <summary>What every operation that reads a body can answer before it runs (Rest/RestConventionsMiddleware.cs).</summary>
    public static readonly string[] EveryBody = [MalformedJson, RequestTooLarge, UnsupportedMediaType];

    public const string ProjectsTag = "Projects";
    public const string KeysTag = "Keys";
    public const string AuditTag = "Audit";
    public const string CachesTag = "Caches";
    public const string OperatorsTag = "Operators";

    /// <summary>The document's tags, in the order a reader meets them, with what each groups.</summary>
    public static readonly (string Name, string Description)[] Tags =
    [
        (ProjectsTag, "Projects, their settings and policies, and their environments (every project starts with dev, staging and prod)."),
        (KeysTag, "API keys: publishable (pk_…) and secret (sk_…). A secret key's value is returned once, when it is created or rolled."),
        (AuditTag, "What was done, to what, and by which operator."),
        (CachesTag, "Flushing the caches of KeyValidation and the gateways, for records changed behind KeyAdmin's back."),
        (OperatorsTag, "The people and jobs that manage keys, and their tokens (op_…)."),
    ];

    /// <summary>Every RPC of <c>KeyAdminService</c>, by its proto name.</summary>
    public static readonly FrozenDictionary<string, OperationEntry> Operations = new Dictionary<string, OperationEntry>
    {
        ["CreateProject"] = new(ProjectsTag, ["INVALID_PROJECT_NAME"], "Creates a project, with the environments dev, staging and prod."),
        ["ListProjects"] = new(ProjectsTag, ["INVALID_PAGE_SIZE", "INVALID_PAGE_TOKEN"], "Lists the projects the token may see, a page at a time."),
        ["GetProject"] = new(ProjectsTag, ["PROJECT_NOT_FOUND"]),
        ["UpdateProject"] = new(ProjectsTag,
            ["INVALID_PROJECT_NAME", "INVALID_RATE_LIMIT", "INVALID_LIFETIME_POLICY", "INVALID_UPDATE_MASK", "NOTHING_TO_UPDATE", "PROJECT_NOT_FOUND"]),
        ["CreateEnvironment"] = new(ProjectsTag,
            ["INVALID_ENVIRONMENT_NAME", "PROJECT_NOT_FOUND", "ENVIRONMENT_EXISTS"], "Adds an environment to a project."),
        ["CreateKey"] = new(KeysTag,
            [
                "INVALID_KEY_NAME", "INVALID_KEY_TYPE", "INVALID_SCOPE", "INVALID_EXPIRY", "INVALID_RATE_LIMIT", "INVALID_ALLOWED_CIDRS",
                "INVALID_ALLOWED_ORIGINS", "ALLOWLIST_NOT_FOR_KEY_TYPE", "INVALID_METADATA", "EXPIRY_REQUIRED", "EXPIRY_TOO_LONG",
                "PROJECT_NOT_FOUND", "ENVIRONMENT_NOT_FOUND", "KEY_NAME_TAKEN",
            ],
            "Creates an API key in an environment; a secret key's value is in this response only."),
        ["ListKeys"] = new(KeysTag,
            [
                "INVALID_PAGE_SIZE", "INVALID_PAGE_TOKEN", "INVALID_KEY_TYPE", "INVALID_STATUS_FILTER", "INVALID_QUERY",
                "PROJECT_NOT_FOUND", "ENVIRONMENT_NOT_FOUND",
            ]),
        ["UpdateKey"] = new(KeysTag,
            [
                "INVALID_KEY_NAME", "INVALID_SCOPE", "INVALID_EXPIRY", "INVALID_RATE_LIMIT", "INVALID_ALLOWED_CIDRS", "INVALID_ALLOWED_ORIGINS",
                "ALLOWLIST_NOT_FOR_KEY_TYPE", "INVALID_METADATA", "INVALID_UPDATE_MASK", "NOTHING_TO_UPDATE", "EXPIRY_REQUIRED",
                "EXPIRY_TOO_LONG", "KEY_NOT_FOUND", "ENVIRONMENT_NOT_FOUND", "PROJECT_NOT_FOUND", "KEY_NAME_TAKEN", "KEY_EXPIRED",
            ]),
        // The proto comment opens with a question, which reads oddly as a summary.
        ["FindKey"] = new(KeysTag, ["INVALID_KEY_FORMAT", "KEY_NOT_FOUND"], "Finds a key by its full value, in the projects the token may see."),
        ["DeleteKey"] = new(KeysTag,
            ["CONFIRM_NAME_REQUIRED", "CONFIRM_NAME_MISMATCH", "PROJECT_NOT_FOUND", "ENVIRONMENT_NOT_FOUND", "KEY_NOT_FOUND"]),
        ["RollKey"] = new(KeysTag,
            [
                "INVALID_GRACE_PERIOD", "INVALID_EXPIRY", "EXPIRY_REQUIRED", "EXPIRY_TOO_LONG", "PROJECT_NOT_FOUND", "ENVIRONMENT_NOT_FOUND",
                "KEY_NOT_FOUND", "KEY_ALREADY_ROLLED", "KEY_REVOKED", "KEY_EXPIRED",
            ],
            "Replaces a key with a new one; the old one keeps working for a grace period."),
        ["ListAuditEvents"] = new(AuditTag, ["INVALID_LIMIT", "INVALID_PAGE_SIZE", "INVALID_PAGE_TOKEN", "PROJECT_NOT_FOUND"])
        {
            AdditionalOperationIds = new Dictionary<string, string> { ["/v1/audit"] = "listAllAuditEvents" },
        },
        ["FlushCaches"] = new(CachesTag, ["INVALID_FLUSH_TARGET", "FLUSH_UNAVAILABLE"]),
        ["GetCurrentOperator"] = new(OperatorsTag, []),
        ["ListOperators"] = new(OperatorsTag, []),
        ["CreateOperator"] = new(OperatorsTag,
            ["INVALID_OPERATOR_NAME", "INVALID_ROLE", "INVALID_PROJECT_LIMIT", "INVALID_EXPIRY", "PROJECT_NOT_FOUND", "OPERATOR_NAME_TAKEN"]),
        ["RevokeOperator"] = new(OperatorsTag, ["OPERATOR_NOT_FOUND", "OPERATOR_REVOKED"]),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>
    /// Every reason <paramref name="rpc"/> can answer over REST, in the order of their statuses: its own, those every
    /// operation shares, and the REST layer's for an operation with a body.
    /// </summary>
    public static IReadOnlyList<ErrorReason> ReasonsOf(string rpc, bool hasBody)
    {
        var entry = Operations[rpc];
        return entry.Reasons
            .Concat(EveryOperation)
            .Concat(hasBody ? EveryBody : [])
            .Distinct(StringComparer.Ordinal)
            .Select(code => Reasons[code])
            .OrderBy(r => r.Status)
            .ToList();
    }
}
