using System.Threading.Channels;
using Grpc.Core;
using Keys.V1;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// KeyValidation as a test plays it: a real generated client over a call invoker that records every <c>Validate</c>
/// call and answers it when the test says (or at once, through <see cref="OnCall"/>). Anything else is refused, so a
/// test notices a call it did not expect.
/// </summary>
internal sealed class FakeKeyValidation : CallInvoker
{
    private readonly Channel<ValidateCall> _pending = Channel.CreateUnbounded<ValidateCall>();
    private readonly Channel<WatchCall> _watches = Channel.CreateUnbounded<WatchCall>();
    private int _calls;
    private int _acquireCalls;

    public FakeKeyValidation() => Client = new KeyValidationService.KeyValidationServiceClient(this);

    public KeyValidationService.KeyValidationServiceClient Client { get; }

    /// <summary>How many <c>Validate</c> calls were made.</summary>
    public int ValidateCalls => Volatile.Read(ref _calls);

    /// <summary>How many <c>AcquireRateBudget</c> calls were made.</summary>
    public int AcquireCalls => Volatile.Read(ref _acquireCalls);

    /// <summary>Plays <c>AcquireRateBudget</c>: the call's answer (a task the test may complete later, or fail with an <see cref="RpcException"/>).</summary>
    public Func<AcquireRateBudgetRequest, CallOptions, Task<AcquireRateBudgetResponse>>? OnAcquire { get; set; }

    /// <summary>Runs as each call is made, before it is returned: a test that answers every call the same way sets it.</summary>
    public Action<ValidateCall>? OnCall { get; set; }

    /// <summary>The next call made (in order), waiting for it a few seconds at most.</summary>
    public async Task<ValidateCall> NextCallAsync() =>
        await _pending.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        if (request is AcquireRateBudgetRequest acquire && method.Name == "AcquireRateBudget" && OnAcquire is { } onAcquire)
        {
            Interlocked.Increment(ref _acquireCalls);
            var answer = onAcquire(acquire, options);
            return new AsyncUnaryCall<TResponse>(
                (Task<TResponse>)(object)answer,
                Task.FromResult(new Metadata()),
                () => answer.IsCompletedSuccessfully ? Status.DefaultSuccess : new Status(StatusCode.Unknown, ""),
                () => new Metadata(),
                () => { });
        }

        if (request is not ValidateRequest validate || method.Name != "Validate")
        {
            throw new NotSupportedException($"KeyValidation's {method.Name} is not played by this fake.");
        }

        Interlocked.Increment(ref _calls);
        var call = new ValidateCall(validate, options);
        OnCall?.Invoke(call);
        _pending.Writer.TryWrite(call);
        return new AsyncUnaryCall<TResponse>(
            (Task<TResponse>)(object)call.Response,
            Task.FromResult(new Metadata()),
            () => call.Response.IsCompletedSuccessfully ? Status.DefaultSuccess : new Status(StatusCode.Unknown, ""),
            () => new Metadata(),
            () => { });
    }

    /// <summary>The next <c>Watch</c> stream opened (in order), waiting for it a few seconds at most.</summary>
    public async Task<WatchCall> NextWatchAsync() =>
        await _watches.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException($"KeyValidation's {method.Name} is not played by this fake.");

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        if (request is not WatchRequest || method.Name != "Watch")
        {
            throw new NotSupportedException($"KeyValidation's {method.Name} is not played by this fake.");
        }

        var call = new WatchCall(options.CancellationToken);
        _watches.Writer.TryWrite(call);
        return new AsyncServerStreamingCall<TResponse>(
            (IAsyncStreamReader<TResponse>)(object)call, Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => new Metadata(), () => { });
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException($"KeyValidation's {method.Name} is not played by this fake.");

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException($"KeyValidation's {method.Name} is not played by this fake.");
}

/// <summary>One <c>Validate</c> call: what was asked, with which options, and its answer once the test gives it.</summary>
internal sealed class ValidateCall(ValidateRequest request, CallOptions options)
{
    private readonly TaskCompletionSource<ValidateResponse> _response = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValidateRequest Request { get; } = request;

    public CallOptions Options { get; } = options;

    public Task<ValidateResponse> Response => _response.Task;

    public void Answer(ValidateResponse response) => _response.SetResult(response);

    /// <summary>Fails as a gRPC client does: the awaited call throws an <see cref="RpcException"/>.</summary>
    public void Fail(StatusCode code) => _response.SetException(new RpcException(new Status(code, $"The fake failed the call with {code}.")));
}

/// <summary>
/// One <c>Watch</c> stream, played by the test: it sends events, ends the stream or fails it. Cancelling the call (the
/// client's silence timer) ends a wait for the next event as a gRPC client's cancelled call does.
/// </summary>
internal sealed class WatchCall(CancellationToken callCancelled) : IAsyncStreamReader<WatchEvent>
{
    private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>();

    public WatchEvent Current { get; private set; } = null!;

    public void Send(WatchEvent watchEvent) => _events.Writer.TryWrite(watchEvent);

    public void Heartbeat(long sequence) => Send(new WatchEvent { Heartbeat = new Heartbeat { Sequence = sequence } });

    /// <summary>Ends the stream as a server that returns does.</summary>
    public void End() => _events.Writer.TryComplete();

    /// <summary>Fails the stream as a server that answers with a status does.</summary>
    public void Fail(StatusCode code) => _events.Writer.TryComplete(new RpcException(new Status(code, $"The fake failed the stream with {code}.")));

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callCancelled);
        try
        {
            if (!await _events.Reader.WaitToReadAsync(either.Token))
            {
                return false;
            }
        }
        catch (ChannelClosedException ex) when (ex.InnerException is RpcException failure)
        {
            throw failure;
        }

        Current = await _events.Reader.ReadAsync(either.Token);
        return true;
    }
}
