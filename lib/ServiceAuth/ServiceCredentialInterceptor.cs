using System.Security.Cryptography;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace Keys.ServiceAuth;

/// <summary>
/// Requires a known caller's service token (<c>Authorization: Bearer …</c>) on every call of the services it is added
/// to, whatever their kind (unary or streaming), and records the caller's name for the handler
/// (<see cref="ServiceCallerExtensions.GetCaller"/>). Tokens are compared as SHA-256 digests in constant time, against
/// every caller, so neither the result nor the time taken says which caller came close.
/// </summary>
public sealed class ServiceCredentialInterceptor : Interceptor
{
    internal const string CallerKey = "keys.service-caller";

    private readonly (string Name, byte[] Digest)[] _callers;

    public ServiceCredentialInterceptor(IOptions<ServiceAuthOptions> options)
    {
        _callers = [.. options.Value.Callers.Select(c => (c.Key, BearerToken.Digest(c.Value)))];
        if (_callers.Length == 0)
        {
            throw new InvalidOperationException(
                "ServiceAuth:Callers is empty: no service could call this one. The AppHost sets it; see docs/security.md.");
        }
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        if (!BearerToken.TryDigest(context.RequestHeaders, presented))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "This is an internal service: send your service credential as 'Authorization: Bearer <service token>'."));
        }

        string? caller = null;
        foreach (var (name, digest) in _callers)
        {
            if (CryptographicOperations.FixedTimeEquals(presented, digest))
            {
                caller = name;
            }
        }

        if (caller is null)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The service credential is not valid."));
        }

        context.UserState[CallerKey] = caller;
    }
}

public static class ServiceCallerExtensions
{
    /// <summary>The name of the service that made this call, as its credential proved.</summary>
    public static string GetCaller(this ServerCallContext context) =>
        context.UserState.TryGetValue(ServiceCredentialInterceptor.CallerKey, out var caller) && caller is string name
            ? name
            : throw new InvalidOperationException("This service is not behind ServiceCredentialInterceptor.");
}
