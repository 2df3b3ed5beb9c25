using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Keys.KeyAdmin.Data;

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

    public static RpcException Unauthenticated(string message) => Create(Code.Unauthenticated, "UNAUTHORIZED", message);

    public static RpcException Unauthenticated(string reason, string message) => Create(Code.Unauthenticated, reason, message);

    public static RpcException PermissionDenied(string reason, string message) => Create(Code.PermissionDenied, reason, message);

    public static RpcException Unavailable(string reason, string message) => Create(Code.Unavailable, reason, message);

    public static RpcException TooManyRequests(string message) => Create(Code.ResourceExhausted, "TOO_MANY_REQUESTS", message);

    /// <summary>The API's form of a refusal from KeyAdmin itself: its code becomes the reason, its kind the status.</summary>
    public static RpcException From(KeyAdminException error) => Create(StatusOf(error.Kind), error.Code, error.Message);

    public static Code StatusOf(KeyAdminErrorKind kind) => kind switch
    {
        KeyAdminErrorKind.InvalidArgument => Code.InvalidArgument,
        KeyAdminErrorKind.NotFound => Code.NotFound,
        KeyAdminErrorKind.AlreadyExists => Code.AlreadyExists,
        // ABORTED is what JSON transcoding answers with HTTP 409; FAILED_PRECONDITION would be 400.
        KeyAdminErrorKind.Conflict => Code.Aborted,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "A kind of error with no status."),
    };

    private static RpcException Create(Code code, string reason, string message) => new Google.Rpc.Status
    {
        Code = (int)code,
        Message = message,
        Details = { Any.Pack(new ErrorInfo { Reason = reason, Domain = Domain }) },
    }.ToRpcException();
}
