using Keys.KeyAdmin;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.OperatorConsole;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseOperatorConsole();
app.UseSwagger(options => options.RouteTemplate = "openapi/{documentName}.json");
app.MapGrpcService<ManagementApi>();
app.MapGrpcService<InternalApi>();
app.MapGrpcHealthChecksService();

app.Run();
