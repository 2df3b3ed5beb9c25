using Keys.Gateway;
using Keys.Gateway.Authentication;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseCors();
app.MapReverseProxy(proxy => proxy.UseMiddleware<KeyAuthenticationMiddleware>());

app.Run();
