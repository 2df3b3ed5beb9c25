using Grpc.Core;
using Grpc.Core.Interceptors;
using Keys.KeyAdmin.Data;
using Npgsql;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// Turns KeyAdmin's refusals (<see cref="KeyAdminException"/>) into the API's errors (<see cref="ApiErrors.From"/>)
/// for every service, gRPC and REST alike (REST calls pass through the same gRPC pipeline), so that no RPC can leak
/// one as an UNKNOWN error by forgetting to translate it. A database that cannot be reached is UNAVAILABLE.
/// </summary>
public sealed class DomainErrorInterceptor : Interceptor
{
    // Every KeyAdmin RPC is unary: a streaming one would need its handler here too.
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (KeyAdminException ex)
        {
            throw ApiErrors.From(ex);
        }
        // The database is down or unreachable: a 503 the client may retry, never a 500 that reads like a bug. A change
        // that had not committed was not made; one whose commit was cut off is found by reading it back.
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            throw ApiErrors.Unavailable("STORE_UNAVAILABLE", "KeyAdmin cannot reach its database right now; retry shortly.");
        }
    }
}
