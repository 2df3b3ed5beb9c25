namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Whether this replica hears KeyAdmin's invalidations on Redis pub/sub, as <see cref="InvalidationListener"/> last
/// found: for health and the <c>keys.validation.invalidation.subscribed</c> gauge. Without it, invalidations still
/// arrive, by the <c>Changes</c> poll, up to <c>ChangesPollInterval</c> late.
/// </summary>
public sealed class InvalidationSubscription(TimeProvider time)
{
    private readonly Lock _gate = new();
    private int _subscribed;
    private DateTimeOffset _downSince = time.GetUtcNow();
    private string _reason = "not subscribed yet";

    public bool IsSubscribed => Volatile.Read(ref _subscribed) == 1;

    /// <summary>Since when it has been down, and why (an exception type or a fixed phrase); null while subscribed.</summary>
    public (DateTimeOffset Since, string Reason)? Down
    {
        get
        {
            lock (_gate)
            {
                return IsSubscribed ? null : (_downSince, _reason);
            }
        }
    }

    public void Subscribed()
    {
        lock (_gate)
        {
            Volatile.Write(ref _subscribed, 1);
        }
    }

    public void Lost(string reason)
    {
        lock (_gate)
        {
            if (IsSubscribed)
            {
                _downSince = time.GetUtcNow();
            }

            _reason = reason;
            Volatile.Write(ref _subscribed, 0);
        }
    }
}
