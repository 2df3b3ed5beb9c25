using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Keys.ApiKeys;
using Keys.Hosting;
using Keys.KeyAdmin.Access;
using Keys.KeyAdmin.Data;
using Keys.ServiceAuth;
using Microsoft.Extensions.Options;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// Every management call, gRPC and REST alike (REST calls pass through the same gRPC pipeline), presents
/// <c>Authorization: Bearer &lt;token&gt;</c>: an operator token, looked up on every call so that a revoked one stops at
/// once, or one of KeyAdmin's configured tokens (break-glass admin, dashboard), compared in constant time. Then the
/// caller's role and projects must allow the call (<see cref="AccessRules"/>) before its handler runs. Each client
/// address gets <c>FailedTokenLimit</c> wrong tokens per <c>FailedTokenWindow</c>: a permit is taken before the token
/// is checked and given back when it is right, so concurrent guesses cannot all slip through.
/// </summary>
public sealed partial class OperatorAuthInterceptor(
    IOptions<KeyAdminOptions> options, OperatorStore operators, TimeProvider time, ILogger<OperatorAuthInterceptor> logger) : Interceptor
{
    private readonly byte[] _adminDigest = BearerToken.Digest(options.Value.AdminToken);

    // Unset, it is a digest no token has: an all-zero array is not the SHA-256 of anything anyone can find.
    private readonly byte[] _dashboardDigest = options.Value.DashboardToken is { Length: > 0 } dashboard
        ? BearerToken.Digest(dashboard)
        : new byte[SHA256.HashSizeInBytes];

    private readonly AddressThrottle _throttle = new(options.Value.FailedTokenLimit, options.Value.FailedTokenWindow, time);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await AdmitAsync(request, context);
        return await continuation(request, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await AdmitAsync(request, context);
        await continuation(request, responseStream, context);
    }

    private async Task AdmitAsync(object request, ServerCallContext context)
    {
        var caller = await AuthenticateAsync(context);
        var projectId = request is IMessage message && message.Descriptor.FindFieldByName("project_id") is { } field
            ? field.Accessor.GetValue(message) as string ?? ""
            : "";
        if (AccessRules.Check(caller, context.Method, projectId) is { } denial)
        {
            // Who tried what, for whoever reviews access: IDs and the method only, never the token.
            LogRefused(context.Method, caller.Id, denial.Reason);
            throw ApiErrors.PermissionDenied(denial.Reason, denial.Message);
        }

        context.GetHttpContext().Features.Set(caller);
    }

    private async Task<Caller> AuthenticateAsync(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var address = http.Connection.RemoteIpAddress;
        if (!_throttle.TryReserve(address))
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(_throttle.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            throw ApiErrors.TooManyRequests("Too many wrong tokens from this address. Wait, then retry with the right token.");
        }

        var (digest, isOperatorToken) = ReadToken(context.RequestHeaders)
            ?? throw ApiErrors.Unauthenticated("Send an operator token (or the admin token) as 'Authorization: Bearer <token>'.");

        // Both comparisons, whatever the first answers: the time taken says nothing about which token was near.
        var isAdmin = CryptographicOperations.FixedTimeEquals(digest, _adminDigest);
        var isDashboard = CryptographicOperations.FixedTimeEquals(digest, _dashboardDigest) && options.Value.DashboardToken is { Length: > 0 };
        Caller? caller = isAdmin ? Caller.AdminToken : isDashboard ? Caller.Dashboard : null;

        if (caller is null && isOperatorToken)
        {
            // A lookup by the token's SHA-256: an index finds the row, and the hash of a 256-bit random token tells an
            // observer of timing nothing about any other token.
            var (row, state) = await operators.FindByTokenHashAsync(digest, context.CancellationToken);
            caller = state switch
            {
                OperatorTokenState.Active => Caller.From(row!),
                OperatorTokenState.Revoked => throw ApiErrors.Unauthenticated(
                    "TOKEN_REVOKED", $"This operator token ('{row!.Name}') was revoked at {row.RevokedAt:O}; ask an owner for a new one."),
                OperatorTokenState.Expired => throw ApiErrors.Unauthenticated(
                    "TOKEN_EXPIRED", $"This operator token ('{row!.Name}') expired at {row.ExpiresAt:O}; ask an owner for a new one."),
                _ => null,
            };
        }

        if (caller is null)
        {
            throw ApiErrors.Unauthenticated("The token is not valid.");
        }

        _throttle.Refund(address);
        return caller;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} to operator {OperatorId}: {Reason}")]
    private partial void LogRefused(string method, string operatorId, string reason);

    private static (byte[] Digest, bool IsOperatorToken)? ReadToken(Metadata headers)
    {
        if (!BearerToken.TryRead(headers, out var token))
        {
            return null;
        }

        var digest = new byte[SHA256.HashSizeInBytes];
        BearerToken.Digest(token, digest);
        return (digest, OperatorToken.IsWellFormed(token));
    }
}

public static class CallerExtensions
{
    /// <summary>Who made this call, as <see cref="OperatorAuthInterceptor"/> established before the handler ran.</summary>
    public static Caller GetCaller(this ServerCallContext context) =>
        context.GetHttpContext().Features.Get<Caller>()
        ?? throw new InvalidOperationException("The call reached its handler without a caller: OperatorAuthInterceptor did not run.");
}
