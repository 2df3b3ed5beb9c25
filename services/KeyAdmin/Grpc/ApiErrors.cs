using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Keys.ApiKeys;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// Errors with a stable, machine-readable code (<c>google.rpc.ErrorInfo.reason</c>) beside the human message. Over
/// REST they read <c>{"code":5,"message":"…","details":[{"@type":"…ErrorInfo","reason":"PROJECT_NOT_FOUND",…}]}</c>
/// with the matching HTTP status. Messages never carry a key value, a key hash or a token.
/// </summary>
public static class ApiErrors
{
    public const string Domain = "keys.v1";

    public static RpcException InvalidArgument(string reason, string message) => Create(Code.InvalidArgument, reason, message);

    public static RpcException NotFound(string reason, string message) => Create(Code.NotFound, reason, message);

    public static RpcException AlreadyExists(string reason, string message) => Create(Code.AlreadyExists, reason, message);

    public static RpcException FailedPrecondition(string reason, string message) => Create(Code.FailedPrecondition, reason, message);

    public static RpcException Unauthenticated(string message) => Create(Code.Unauthenticated, "UNAUTHORIZED", message);

    public static RpcException TooManyRequests(string message) => Create(Code.ResourceExhausted, "TOO_MANY_REQUESTS", message);

    /// <summary>A conflict with the resource's state (HTTP 409): the request may be right, but not for this resource now.</summary>
    public static RpcException Conflict(string reason, string message) => Create(Code.Aborted, reason, message);

    // Identifiers are echoed only once they have the shape of one: whatever else sits in an ID's place (a pasted API
    // key, say) must not be repeated into error messages, which end up in logs.
    public static RpcException ProjectNotFound(string projectId) =>
        NotFound("PROJECT_NOT_FOUND", ResourceId.IsWellFormed(projectId, ResourceId.ProjectPrefix)
            ? $"Project '{projectId}' does not exist."
            : "No project has this ID: project IDs look like prj_ and 22 letters and digits.");

    public static RpcException EnvironmentNotFound(string projectId, string environment) =>
        NotFound("ENVIRONMENT_NOT_FOUND", RequestRules.IsEnvironmentName(environment)
            ? $"Project '{projectId}' has no environment '{environment}'."
            : "The project has no environment of this name: environment names are lowercase letters, digits and '-'.");

    public static RpcException KeyNotFound(string keyId, string environment) =>
        NotFound("KEY_NOT_FOUND", ResourceId.IsWellFormed(keyId, ResourceId.KeyPrefix)
            ? $"Key '{keyId}' does not exist in environment '{environment}'."
            : "No key has this ID: key IDs look like key_ and 22 letters and digits (not the key itself).");

    private static RpcException Create(Code code, string reason, string message) => new Google.Rpc.Status
    {
        Code = (int)code,
        Message = message,
        Details = { Any.Pack(new ErrorInfo { Reason = reason, Domain = Domain }) },
    }.ToRpcException();
}
