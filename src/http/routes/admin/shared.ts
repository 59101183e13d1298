/** What every operator's route declares alike: its security, tag and shared problems. */
export const security = [{ bearer: [] }];
export const tags = ["admin"];
export const unauthorized = { unauthorized: "no or the wrong Authorization: Bearer <ADMIN_TOKEN>" };
export const unavailable = {
  service_unavailable:
    "the database is unreachable or too busy, or the request did not finish in time; nothing changed",
};
