using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

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

    public static RpcException ProjectNotFound(string projectId) =>
        NotFound("PROJECT_NOT_FOUND", $"Project '{projectId}' does not exist.");

    public static RpcException EnvironmentNotFound(string projectId, string environment) =>
        NotFound("ENVIRONMENT_NOT_FOUND", $"Project '{projectId}' has no environment '{environment}'.");

    private static RpcException Create(Code code, string reason, string message) => new Google.Rpc.Status
    {
        Code = (int)code,
        Message = message,
        Details = { Any.Pack(new ErrorInfo { Reason = reason, Domain = Domain }) },
    }.ToRpcException();
}
