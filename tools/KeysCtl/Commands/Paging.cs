using System.Text.Json.Nodes;
using Google.Protobuf;
using Keys.KeysCtl.Api;

namespace Keys.KeysCtl.Commands;

/// <summary>A listing read to its end, as the contract types it and as the API's JSON (every page's items in one array).</summary>
public sealed record Listing<TItem>(List<TItem> Items, JsonArray Json);

/// <summary>
/// The list calls answer a page at a time (<c>pageSize</c>, <c>pageToken</c> → <c>nextPageToken</c>): keysctl follows
/// the tokens to the last page, so that what it prints is the whole listing, not its first page.
/// </summary>
public static class Paging
{
    /// <summary>
    /// Reads every page of <paramref name="path"/> (with <paramref name="query"/>, the same on every page), or the first
    /// <paramref name="cap"/> items. A KeyAdmin that does not page answers everything at once, without a token: that is
    /// one page.
    /// </summary>
    public static async Task<Listing<TItem>> ReadAllAsync<TResponse, TItem>(
        KeyAdminApi api,
        string path,
        IEnumerable<(string Name, string Value)> query,
        int pageSize,
        string field,
        Func<TResponse, IEnumerable<TItem>> items,
        Func<TResponse, string> nextPageToken,
        CancellationToken cancellationToken,
        int? cap = null)
        where TResponse : IMessage<TResponse>, new()
    {
        var parameters = new List<(string Name, string Value)> { ("pageSize", $"{(cap is { } c ? Math.Min(c, pageSize) : pageSize)}") };
        parameters.AddRange(query);
        var all = new List<TItem>();
        var json = new JsonArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var token = string.Empty;
        do
        {
            var page = token.Length == 0 ? parameters : [.. parameters, ("pageToken", token)];
            var reply = await api.GetAsync<TResponse>(With(path, page), cancellationToken);
            all.AddRange(items(reply.Message));
            foreach (var item in reply.Json[field]?.AsArray() ?? [])
            {
                json.Add(item?.DeepClone());
            }

            token = nextPageToken(reply.Message);
            // A token seen before would read the same pages again, for ever.
            if (token.Length > 0 && !seen.Add(token))
            {
                throw new KeysCtlException($"KeyAdmin answered a page token it had already sent for {path}: stopped rather than list the same pages again");
            }
        }
        while (token.Length > 0 && (cap is null || all.Count < cap));

        if (cap is { } most && all.Count > most)
        {
            all.RemoveRange(most, all.Count - most);
            while (json.Count > most)
            {
                json.RemoveAt(json.Count - 1);
            }
        }

        return new Listing<TItem>(all, json);
    }

    private static string With(string path, IEnumerable<(string Name, string Value)> query) =>
        $"{path}?{string.Join('&', query.Select(q => $"{q.Name}={Uri.EscapeDataString(q.Value)}"))}";
}
