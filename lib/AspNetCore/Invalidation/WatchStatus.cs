namespace Keys.AspNetCore.Invalidation;

/// <summary>Where this process's Watch stream is. The numbers are what the <c>keys.api_key.watch.state</c> gauge reports.</summary>
public enum WatchState
{
    /// <summary>No stream: not opened yet, or lost and about to be reopened. The near cache serves nothing.</summary>
    Down = 0,

    /// <summary>A stream is being opened; the near cache serves nothing until KeyValidation's first heartbeat.</summary>
    Connecting = 1,

    /// <summary>Following the stream: the near cache is kept exact, and answers.</summary>
    Connected = 2,
}

/// <summary>
/// The Watch stream's state as <see cref="InvalidationWatcher"/> last set it, for health and metrics: when the near cache
/// went off, and why the last stream was lost. Reasons are gRPC status names and fixed words, never a message a server
/// wrote (which could name anything).
/// </summary>
public sealed class WatchStatus(TimeProvider time)
{
    private readonly Lock _gate = new();
    private int _state;
    private DateTimeOffset _offSince = time.GetUtcNow();
    private DateTimeOffset _connectedSince;
    private string? _lastLoss;

    /// <summary>Read without a lock: a gauge reads it on every collection.</summary>
    public WatchState State => (WatchState)Volatile.Read(ref _state);

    public WatchSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new WatchSnapshot(State, State == WatchState.Connected ? _connectedSince : _offSince, _lastLoss);
        }
    }

    /// <summary>A stream is being opened. The near cache stays off, so the outage it ends has not ended yet.</summary>
    public void Connecting()
    {
        lock (_gate)
        {
            Volatile.Write(ref _state, (int)WatchState.Connecting);
        }
    }

    /// <summary>The near cache is on: KeyValidation vouched for where the stream is.</summary>
    public void Connected()
    {
        lock (_gate)
        {
            _connectedSince = time.GetUtcNow();
            Volatile.Write(ref _state, (int)WatchState.Connected);
        }
    }

    /// <summary>The stream ended; <paramref name="reason"/> says how (a gRPC status name or a fixed word).</summary>
    public void Lost(string reason)
    {
        lock (_gate)
        {
            if (State == WatchState.Connected)
            {
                _offSince = time.GetUtcNow();
            }

            _lastLoss = reason;
            Volatile.Write(ref _state, (int)WatchState.Down);
        }
    }
}

/// <param name="State">Where the stream is.</param>
/// <param name="Since">Connected: since when. Otherwise: since when the near cache has been off (the process's start, at first).</param>
/// <param name="LastLoss">How the last stream ended; null when none has been lost yet.</param>
public readonly record struct WatchSnapshot(WatchState State, DateTimeOffset Since, string? LastLoss);
