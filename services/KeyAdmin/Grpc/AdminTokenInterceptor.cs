using System.Globalization;
using System.Security.Cryptography;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Keys.Hosting;
using Keys.ServiceAuth;
using Microsoft.Extensions.Options;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// Requires <c>Authorization: Bearer &lt;admin token&gt;</c> on every management call, gRPC and REST alike (REST
/// calls pass through the same gRPC pipeline). The comparison takes the same time whatever the presented token, and
/// each client address gets <c>FailedTokenLimit</c> wrong tokens per <c>FailedTokenWindow</c>: a permit is taken
/// before the comparison and given back when the token is right, so concurrent guesses cannot all slip through.
/// </summary>
public sealed class AdminTokenInterceptor(IOptions<KeyAdminOptions> options, TimeProvider time) : Interceptor
{
    private readonly byte[] _expectedDigest = BearerToken.Digest(options.Value.AdminToken);

    private readonly AddressThrottle _throttle = new(options.Value.FailedTokenLimit, options.Value.FailedTokenWindow, time);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var address = http.Connection.RemoteIpAddress;
        if (!_throttle.TryReserve(address))
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(_throttle.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            throw ApiErrors.TooManyRequests("Too many wrong admin tokens from this address. Wait, then retry with the right token.");
        }

        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        if (!BearerToken.TryDigest(context.RequestHeaders, presented))
        {
            throw ApiErrors.Unauthenticated("Send the admin token as 'Authorization: Bearer <token>'.");
        }

        if (!CryptographicOperations.FixedTimeEquals(presented, _expectedDigest))
        {
            throw ApiErrors.Unauthenticated("The admin token is not valid.");
        }

        _throttle.Refund(address);
    }
}
