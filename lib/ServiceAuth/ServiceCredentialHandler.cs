using Microsoft.Extensions.Options;

namespace Keys.ServiceAuth;

/// <summary>
/// Adds this service's token to every request of an internal gRPC client. A handler rather than gRPC call credentials:
/// the header is one cached string, with no per-call callback on the hot path, and it goes over h2c on a private
/// network as it would over TLS.
/// </summary>
public sealed class ServiceCredentialHandler(string token) : DelegatingHandler
{
    private readonly string _authorization = "Bearer " + token;

    public ServiceCredentialHandler(IOptions<ServiceAuthOptions> options)
        : this(options.Value.Token)
    {
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.TryAddWithoutValidation("Authorization", _authorization);
        return base.SendAsync(request, cancellationToken);
    }
}
