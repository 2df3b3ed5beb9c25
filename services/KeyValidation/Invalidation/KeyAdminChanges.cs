using Grpc.Core;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Invalidation;

/// <summary>KeyAdmin's outbox, read through its internal <c>Changes</c> call: the source of truth that pub/sub only speeds up.</summary>
public sealed class KeyAdminChanges(KeyAdminInternalService.KeyAdminInternalServiceClient keyAdmin, IOptions<KeyValidationOptions> options)
{
    /// <summary>
    /// Changes after <paramref name="since"/> in sequence order (at most <paramref name="limit"/>; 0: KeyAdmin's most),
    /// and the head. Throws <see cref="ChangesTooOldException"/> when KeyAdmin pruned some of them: what it still holds
    /// would skip over them.
    /// </summary>
    public async Task<ChangesResponse> SinceAsync(long since, int limit, CancellationToken cancellationToken)
    {
        try
        {
            return await keyAdmin.ChangesAsync(
                new ChangesRequest { SinceSequence = since, Limit = limit },
                deadline: DateTime.UtcNow + options.Value.LookupTimeout,
                cancellationToken: cancellationToken);
        }
        catch (RpcException ex) when (ChangesTooOldException.From(since, ex) is { } tooOld)
        {
            throw tooOld;
        }
    }

    /// <summary>KeyAdmin's latest sequence.</summary>
    public async Task<long> HeadAsync(CancellationToken cancellationToken) => (await SinceAsync(long.MaxValue, 1, cancellationToken)).HeadSequence;
}
