using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyValidation.Invalidation;
using Keys.KeyValidation.Lookup;
using Keys.KeyValidation.RateLimiting;
using Keys.KeyValidation.Usage;
using Keys.ServiceAuth;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Grpc;

public sealed class ValidationApi(
    KeyRecordResolver resolver,
    InvalidationFeed feed,
    UsageRecorder usage,
    ValidationMetrics metrics,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    WatchAdmission admission,
    RateBudgetStore budgets,
    IOptions<KeyValidationOptions> options) : KeyValidationService.KeyValidationServiceBase
{
    private static readonly ValidateResponse InvalidFormat = new() { Outcome = ValidationOutcome.InvalidFormat };

    public override async Task<ValidateResponse> Validate(ValidateRequest request, ServerCallContext context)
    {
        // Garbage is answered from the format and checksum alone: no Redis, KeyAdmin or Postgres work.
        if (!KeyString.TryParse(request.Key, out _))
        {
            metrics.Validated(ValidationOutcome.InvalidFormat);
            return InvalidFormat;
        }

        // Captured before the lookup: every invalidation up to here is reflected in what the lookup can find.
        var asOf = feed.AppliedSequence;
        KeyRecord? record;
        try
        {
            record = await resolver.GetAsync(KeyHash.Of(request.Key));
        }
        catch (LookupCapacityExceededException)
        {
            // Overloaded, not down: a caller that refunds its throttle on Unavailable must not refund this.
            throw new RpcException(new Status(StatusCode.ResourceExhausted, "Too many key lookups at once; retry shortly."));
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            // Fail closed: the caller must not read a dependency failure as "no such key".
            throw new RpcException(new Status(StatusCode.Unavailable, "Key records cannot be read right now."));
        }

        var response = ValidationAnswers.Evaluate(record, time.GetUtcNow(), asOf);
        metrics.Validated(response.Outcome);
        if (response.Outcome == ValidationOutcome.Valid)
        {
            usage.Record(record!.KeyId);
        }

        return response;
    }

    private static readonly Task<PingResponse> Pong = Task.FromResult(new PingResponse());

    /// <summary>
    /// Draws from a key's shared rate-limit counter: grants up to <c>requested</c> of what is left of <c>limit</c> in
    /// the window, atomically in Redis. Callers lease ahead of need, so this is called once per lease, not per request.
    /// Redis away or too slow: <c>UNAVAILABLE</c>, and the caller fails closed. The caller's service credential vouches
    /// for the limit it reports; what it cannot do is draw for another window than now's, or more than the limit at once.
    /// </summary>
    public override async Task<AcquireRateBudgetResponse> AcquireRateBudget(AcquireRateBudgetRequest request, ServerCallContext context)
    {
        if (RateBudgetRequests.Check(request, time.GetUtcNow().ToUnixTimeSeconds()) is var (reason, message))
        {
            throw new Google.Rpc.Status
            {
                Code = (int)Google.Rpc.Code.InvalidArgument,
                Message = message,
                Details = { Google.Protobuf.WellKnownTypes.Any.Pack(new Google.Rpc.ErrorInfo { Reason = reason, Domain = "keys.v1" }) },
            }.ToRpcException();
        }

        var requested = RateBudgetRequests.Requested(request);
        RateBudget budget;
        try
        {
            budget = await budgets.DrawAsync(request.KeyId, request.Limit, request.WindowSeconds, request.WindowStart, requested)
                .WaitAsync(options.Value.RedisTimeout, context.CancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            metrics.BudgetDrawn(null, requested);
            throw new RpcException(new Status(StatusCode.Unavailable, "Rate-limit budgets cannot be drawn right now."));
        }

        metrics.BudgetDrawn(budget.Granted, requested);
        return new AcquireRateBudgetResponse { Granted = budget.Granted, Used = budget.Used };
    }

    public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context) => Pong;

    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context)
    {
        using var slot = admission.TryEnter(context.GetCaller())
            ?? throw new RpcException(new Status(StatusCode.ResourceExhausted, "Too many Watch streams are open; close one, or retry later."));

        // A replica that cannot vouch for a cache offers none: the client fails closed and tries again, perhaps elsewhere.
        var watcher = feed.Subscribe(request.FromSequence)
            ?? throw new RpcException(new Status(StatusCode.Unavailable, "This KeyValidation replica is not current with KeyAdmin; reconnect."));

        // A stream lasts until the client goes or this replica stops: shutdown must not wait for watchers, who
        // reconnect (to another replica) and flush.
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var notCurrent = false;
        try
        {
            // The sequence of the last event written on this stream: a heartbeat vouches for exactly what the client
            // has been sent, never for events still queued for it, so a client can check that nothing went missing.
            var position = watcher.StartSequence;
            using var heartbeat = new PeriodicTimer(options.Value.WatchHeartbeatInterval);
            var tick = heartbeat.WaitForNextTickAsync(ending.Token).AsTask();
            // Kept across heartbeats: a new wait per heartbeat would pile up pending waits on an idle stream.
            var next = watcher.Events.WaitToReadAsync(ending.Token).AsTask();
            while (!ending.IsCancellationRequested)
            {
                if (await Task.WhenAny(next, tick) == tick)
                {
                    await tick;
                    if (!feed.IsVouching)
                    {
                        notCurrent = true;
                        break;
                    }

                    await responseStream.WriteAsync(new WatchEvent { Heartbeat = new Heartbeat { Sequence = position } });
                    tick = heartbeat.WaitForNextTickAsync(ending.Token).AsTask();
                    continue;
                }

                await next;
                while (watcher.Events.TryRead(out var watchEvent))
                {
                    await responseStream.WriteAsync(watchEvent);
                    position = watchEvent.EventCase switch
                    {
                        WatchEvent.EventOneofCase.Invalidation => watchEvent.Invalidation.Sequence,
                        WatchEvent.EventOneofCase.Flush => watchEvent.Flush.Sequence,
                        _ => watchEvent.Heartbeat.Sequence,
                    };
                }

                next = watcher.Events.WaitToReadAsync(ending.Token).AsTask();
            }
        }
        catch (OperationCanceledException) when (ending.IsCancellationRequested)
        {
        }
        finally
        {
            feed.Unsubscribe(watcher);
        }

        if (notCurrent)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "This KeyValidation replica is no longer current with KeyAdmin; reconnect."));
        }

        if (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "This KeyValidation replica is stopping; reconnect."));
        }
    }
}
