// SPDX-License-Identifier: Apache-2.0
// The Server page: /health (status, store, breaker, registry source and snapshot age),
// refreshed every two seconds while visible. Network only through ApiClient.
#pragma once

#include <QTimer>
#include <QWidget>

class QLabel;
class QTreeWidget;

namespace sluice {

class ApiClient;

class ServerPage : public QWidget
{
    Q_OBJECT
public:
    explicit ServerPage(ApiClient *client, QWidget *parent = nullptr);
    void refresh();
    QString status() const;

Q_SIGNALS:
    void refreshed(bool ok);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    ApiClient *m_client;
    QLabel *m_status;
    QTreeWidget *m_details;
    QTimer m_timer;
};

} // namespace sluice
