using System.Text.Json;

namespace Keys.KeyAdmin.Rest;

/// <summary>
/// The last line of "every 4xx carries a reason": JSON transcoding answers a request it cannot read into the RPC's
/// message with a bare 400 (<c>"details": []</c>) and a message that may quote the request. <see cref="RequestShape"/>
/// checks requests first so that this should not happen; when it does anyway, the 400 is replaced by
/// <c>MALFORMED_JSON</c> with a message of this API's own. Only a response that starts as a 400 is held back (it is
/// small); every other one streams through untouched.
/// </summary>
public sealed class ErrorDetailsGuard(Stream inner, HttpResponse response) : Stream
{
    private MemoryStream? _held;
    private bool _decided;

    public static async Task RunAsync(HttpContext context, RequestDelegate next)
    {
        var original = context.Response.Body;
        var guard = new ErrorDetailsGuard(original, context.Response);
        context.Response.Body = guard;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        await guard.CompleteAsync();
    }

    /// <summary>True when a 400 body is the API's error shape with an ErrorInfo: anything else gets replaced.</summary>
    public static bool HasReason(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("details", out var details)
                && details.ValueKind == JsonValueKind.Array
                && details.EnumerateArray().Any(d =>
                    d.ValueKind == JsonValueKind.Object
                    && d.TryGetProperty("reason", out var reason)
                    && reason.ValueKind == JsonValueKind.String
                    && reason.GetString() is { Length: > 0 });
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private async Task CompleteAsync()
    {
        if (_held is null)
        {
            return;
        }

        if (HasReason(_held.GetBuffer().AsSpan(0, (int)_held.Length)))
        {
            _held.Position = 0;
            await _held.CopyToAsync(inner);
            return;
        }

        await RestRefusal.MalformedJson("The request does not fit the operation: a value in its body or query string is not of its field's type.")
            .WriteAsync(response);
    }

    private Stream Target()
    {
        if (!_decided)
        {
            _decided = true;
            _held = response.StatusCode == StatusCodes.Status400BadRequest ? new MemoryStream() : null;
        }

        return _held ?? inner;
    }

    public override void Write(byte[] buffer, int offset, int count) => Target().Write(buffer, offset, count);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Target().WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Target().WriteAsync(buffer, cancellationToken);

    // A held response is not flushed: its headers must stay open to change until it is complete.
    public override void Flush()
    {
        if (_held is null && _decided)
        {
            inner.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _held is null && _decided ? inner.FlushAsync(cancellationToken) : Task.CompletedTask;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
