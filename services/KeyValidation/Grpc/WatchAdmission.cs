using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Grpc;

/// <summary>
/// Caps open Watch streams, in total and per caller: each holds a buffer and a heartbeat, so an unbounded number of
/// them (from a leaking client, or a stolen credential) would cost this replica memory that lookups need.
/// </summary>
public sealed class WatchAdmission(IOptions<KeyValidationOptions> options)
{
    private readonly Dictionary<string, int> _byCaller = new(StringComparer.Ordinal);
    private readonly int _maxStreams = options.Value.WatchMaxStreams;
    private readonly int _maxPerCaller = options.Value.WatchMaxStreamsPerCaller;
    private int _total;

    /// <summary>Streams open now, for a gauge.</summary>
    public int Open
    {
        get
        {
            lock (_byCaller)
            {
                return _total;
            }
        }
    }

    /// <summary>A slot for one stream of <paramref name="caller"/>, released on dispose; null when a cap is reached.</summary>
    public IDisposable? TryEnter(string caller)
    {
        lock (_byCaller)
        {
            var mine = _byCaller.GetValueOrDefault(caller);
            if (_total >= _maxStreams || mine >= _maxPerCaller)
            {
                return null;
            }

            _byCaller[caller] = mine + 1;
            _total++;
        }

        return new Slot(this, caller);
    }

    private void Leave(string caller)
    {
        lock (_byCaller)
        {
            _total--;
            if (--_byCaller[caller] == 0)
            {
                _byCaller.Remove(caller);
            }
        }
    }

    private sealed class Slot(WatchAdmission admission, string caller) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                admission.Leave(caller);
            }
        }
    }
}
